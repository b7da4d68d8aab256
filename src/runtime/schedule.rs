//! Schedules (`schedule every D`): a process that has one gets a row in
//! `schedules` when it is deployed, due one interval after the first
//! deployment. Redeploying a changed definition keeps the row's phase
//! (`next_due` stays; only the interval shown is updated); deploying a
//! version without a schedule removes the row.
//!
//! [`crate::runtime::Engine::tick`] starts one instance per due schedule
//! (as [`SCHEDULE_ACTOR`], record from the defaults, through the engine's
//! start path) and moves `next_due` to the first period after its `now`.
//! Periods missed while nothing ticked are not back-filled: one instance is
//! started, and the report says how many periods were skipped.

use jiff::Timestamp;

use super::engine::timer_due;
use super::error::RuntimeError;
use super::store::{ScheduleRow, Tx};
use crate::ir::{Duration, DurationUnit, Process};

/// The actor of instances a schedule starts.
pub const SCHEDULE_ACTOR: &str = "system:schedule";

/// The interval as written, e.g. `3 months`.
pub fn describe(d: &Duration) -> String {
    let word = match d.unit {
        DurationUnit::Minutes => "minute",
        DurationUnit::Hours => "hour",
        DurationUnit::Days => "day",
        DurationUnit::Weeks => "week",
        DurationUnit::Months => "month",
        DurationUnit::Years => "year",
    };
    format!(
        "{} {word}{}",
        d.amount,
        if d.amount == 1 { "" } else { "s" }
    )
}

/// Creates, keeps or removes the schedule of a process being deployed at
/// `at` (see the module documentation).
pub(crate) async fn on_deploy<T: Tx>(
    tx: &mut T,
    process: &Process,
    at: &str,
) -> Result<(), RuntimeError> {
    let Some(every) = &process.schedule else {
        tx.delete_schedule(&process.name).await?;
        return Ok(());
    };
    let every_text = describe(every);
    match tx.schedule(&process.name).await? {
        Some(row) if row.every == every_text => Ok(()),
        Some(row) => {
            tx.put_schedule(&ScheduleRow {
                every: every_text,
                ..row
            })
            .await
        }
        None => {
            let start = parse(at, "deployment time")?;
            let next = timer_due(process, start, every)?;
            tx.put_schedule(&ScheduleRow {
                process: process.name.clone(),
                every: every_text,
                next_due: format!("{next:.6}"),
                last_instance: None,
                last_started_at: None,
            })
            .await
        }
    }
}

fn parse(text: &str, what: &str) -> Result<Timestamp, RuntimeError> {
    text.parse()
        .map_err(|e: jiff::Error| RuntimeError::Corrupt {
            what: format!("{what} `{text}`"),
            reason: e.to_string(),
        })
}

/// The first period boundary after `now`, counting from `due` (a boundary
/// at or before `now`), and how many boundaries were passed after `due`
/// (periods missed). Minutes and hours jump there at once; days, weeks,
/// months and years step on the process's calendar (local days across DST).
pub(crate) fn advance(
    process: &Process,
    every: &Duration,
    due: &str,
    now: Timestamp,
) -> Result<(Timestamp, u64), RuntimeError> {
    let bad = |reason: String| RuntimeError::Corrupt {
        what: format!("schedule of `{}`", process.name),
        reason,
    };
    let mut next = parse(due, "schedule due time")?;
    let plain_time = matches!(every.unit, DurationUnit::Minutes | DurationUnit::Hours);
    if let Some(minutes) = every.fixed_minutes().filter(|m| *m > 0 && plain_time) {
        let period = i64::try_from(minutes)
            .ok()
            .and_then(|m| m.checked_mul(60))
            .ok_or_else(|| bad("the interval is too long".into()))?;
        let behind = now.as_second().saturating_sub(next.as_second()).max(0);
        let steps = behind / period + 1;
        next = next
            .checked_add(jiff::SignedDuration::from_secs(
                steps
                    .checked_mul(period)
                    .ok_or_else(|| bad("the interval is too long".into()))?,
            ))
            .map_err(|e| bad(e.to_string()))?;
        let passed = u64::try_from(steps).unwrap_or(0);
        return Ok((next, passed.saturating_sub(1)));
    }
    let mut passed: u64 = 0;
    loop {
        next = timer_due(process, next, every)?;
        if next > now {
            return Ok((next, passed));
        }
        passed += 1;
        if passed > 100_000 {
            return Err(bad("more than 100,000 periods behind".into()));
        }
    }
}
