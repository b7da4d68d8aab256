//! The background worker: runs [`Engine::tick`] every interval, so timers
//! fire and SLA clocks breach without anyone calling `pdca tick`, and
//! forgets the idempotency keys older than the server's retention.
//!
//! A failed tick is logged and counted, never fatal: the next interval
//! tries again. Several servers on one PostgreSQL database share the due
//! work (the tick claims each due row with `FOR UPDATE SKIP LOCKED`).
//! Shutdown is noticed between ticks only: a tick in progress finishes,
//! so nothing is half-written.
//!
//! [`Engine::tick`]: crate::runtime::Engine::tick

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::AppState;
use crate::runtime::engine::TickReport;

/// Starts the worker; it stops when `shutdown` becomes `true`.
pub fn spawn(
    state: AppState,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tracing::info!(every_ms = every.as_millis() as u64, "worker started");
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                _ = interval.tick() => {}
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
            tick_once(&state).await;
        }
        tracing::info!("worker stopped");
    })
}

/// One tick at the current time: metrics and a log line.
pub async fn tick_once(state: &AppState) {
    let metrics = state.metrics();
    let started = Instant::now();
    let now = jiff::Timestamp::now();
    let result = state.engine().tick(now).await;
    let took = started.elapsed();
    metrics.ticks.inc();
    metrics.tick_duration.observe(took.as_secs_f64());
    match result {
        Ok(report) => {
            metrics.fired("timer", report.fired.len() as u64);
            metrics.breaches.inc_by(report.breached.len() as u64);
            metrics.worker_lag.set(lag_seconds(&report, now));
            if report.fired.is_empty() && report.breached.is_empty() && report.skipped.is_empty() {
                tracing::debug!(took_ms = took.as_millis() as u64, "tick: nothing due");
            } else {
                tracing::info!(
                    fired = report.fired.len(),
                    skipped = report.skipped.len(),
                    breached = report.breached.len(),
                    took_ms = took.as_millis() as u64,
                    "tick"
                );
                for s in &report.skipped {
                    tracing::info!(
                        instance = s.instance,
                        transition = %s.transition,
                        reason = %s.reason,
                        "timer skipped"
                    );
                }
            }
        }
        Err(e) => {
            metrics.tick_errors.inc();
            tracing::error!(error = %e, code = e.code(), "tick failed; retrying at the next interval");
        }
    }
    expire_idempotency_keys(state, now).await;
}

/// Forgets the idempotency keys recorded before the retention.
async fn expire_idempotency_keys(state: &AppState, now: jiff::Timestamp) {
    let cutoff = now
        .checked_sub(state.idempotency_retention())
        .unwrap_or(now);
    match state
        .engine()
        .expire_idempotency_keys(&format!("{cutoff:.6}"))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::debug!(expired = n, "idempotency keys expired"),
        Err(e) => {
            state.metrics().tick_errors.inc();
            tracing::error!(error = %e, code = e.code(), "expiring idempotency keys failed; retrying at the next interval");
        }
    }
}

/// Seconds from the oldest due time the tick handled to `now`.
fn lag_seconds(report: &TickReport, now: jiff::Timestamp) -> f64 {
    let oldest = report
        .fired
        .iter()
        .map(|f| f.due_at.as_str())
        .chain(report.skipped.iter().map(|s| s.due_at.as_str()))
        .chain(report.breached.iter().map(|b| b.due_at.as_str()))
        .filter_map(|t| t.parse::<jiff::Timestamp>().ok())
        .min();
    match oldest {
        Some(t) if t < now => now.duration_since(t).as_secs_f64(),
        _ => 0.0,
    }
}
