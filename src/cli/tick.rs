//! `pdca tick`: handle the work that is due: timers, approval timeouts,
//! SLA warnings and breaches, schedules.

use std::process::ExitCode;

use super::runtime::{self, DbArgs, Format};
use crate::runtime::tick::{DueKind, TickReport};

#[derive(clap::Args)]
pub struct Args {
    /// The instant to handle work due at or before (RFC 3339, e.g.
    /// `2026-03-02T09:00:00Z`); default: now. Events written are stamped
    /// with this time, so a simulated run reads as if it ran then
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    #[command(flatten)]
    db: DbArgs,
}

pub fn run(args: Args) -> ExitCode {
    let now = match &args.now {
        None => jiff::Timestamp::now(),
        Some(text) => match crate::runtime::values::parse_instant(text) {
            Ok(t) => t,
            Err(e) => return runtime::usage(format!("--now: {e}")),
        },
    };
    let db = args.db;
    let result = runtime::block_on(async {
        let engine = runtime::connect(&db).await?;
        let report = engine
            .tick(now)
            .await
            .map_err(|e| runtime::fail(&e, db.format));
        engine.store().close().await;
        report
    });
    let report = match result {
        Ok(Ok(report)) => report,
        Ok(Err(code)) | Err(code) => return code,
    };
    let text = match db.format {
        Format::Json => runtime::json_text(&report),
        Format::Human => human(&report),
    };
    runtime::emit(&text)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One line per item handled, then the counts per kind.
fn human(report: &TickReport) -> String {
    let mut s = String::new();
    for f in &report.fired {
        s += &format!(
            "fired: instance {} ({}) `{}` {} -> {} (due {}, event seq {})\n",
            f.instance, f.process, f.transition, f.from, f.to, f.due_at, f.seq
        );
    }
    for k in &report.skipped {
        s += &format!(
            "skipped: instance {} `{}` (due {}): {}\n",
            k.instance, k.transition, k.due_at, k.reason
        );
    }
    for t in &report.approval_timeouts {
        s += &format!(
            "approval timeout: instance {} `{}` in {} (due {}, event seq {}){}\n",
            t.instance,
            t.approval,
            t.state,
            t.due_at,
            t.seq,
            if t.escalated_to.is_empty() {
                String::new()
            } else {
                format!(", escalated to {}", t.escalated_to.join(", "))
            }
        );
    }
    for w in &report.warned {
        s += &format!(
            "warned: instance {} SLA `{}` at {}% (reached {}, event seq {}){}\n",
            w.instance,
            w.sla,
            w.percent,
            w.due_at,
            w.seq,
            if w.notified.is_empty() {
                String::new()
            } else {
                format!(", notified {}", w.notified.join(", "))
            }
        );
    }
    for b in &report.breached {
        s += &format!(
            "breached: instance {} SLA `{}` (due {}, event seq {})\n",
            b.instance, b.sla, b.due_at, b.seq
        );
    }
    for st in &report.scheduled {
        s += &format!(
            "scheduled: started {} {} (due {}; next {}{})\n",
            st.process,
            st.instance,
            st.due_at,
            st.next_due,
            if st.missed_periods == 0 {
                String::new()
            } else {
                format!(
                    "; {} missed, not back-filled",
                    plural(st.missed_periods as usize, "period", "periods")
                )
            }
        );
    }
    for d in &report.dropped {
        s += &format!(
            "dropped: {} {}{} (due {}): {}\n",
            kind_name(d.kind),
            d.instance
                .map(|i| format!("instance {i} "))
                .unwrap_or_default(),
            format_args!("`{}`", d.name),
            d.due_at,
            d.reason
        );
    }
    for f in &report.failed {
        s += &format!(
            "failed: {} {}`{}` (due {}), still due: {}\n",
            kind_name(f.kind),
            f.instance
                .map(|i| format!("instance {i} "))
                .unwrap_or_default(),
            f.name,
            f.due_at,
            f.reason
        );
    }
    s += &format!(
        "{} fired, {} skipped, {}, {}, {}, {}, {} dropped, {} failed (now {}, {})\n",
        plural(report.fired.len(), "timer", "timers"),
        report.skipped.len(),
        plural(
            report.approval_timeouts.len(),
            "approval timeout",
            "approval timeouts"
        ),
        plural(report.warned.len(), "warning", "warnings"),
        plural(report.breached.len(), "breach", "breaches"),
        plural(
            report.scheduled.len(),
            "scheduled start",
            "scheduled starts"
        ),
        report.dropped.len(),
        report.failed.len(),
        report.now,
        plural(report.transactions, "transaction", "transactions"),
    );
    if report.more {
        s += "more work is due than one tick handles: run `pdca tick` again\n";
    }
    s
}

fn kind_name(kind: DueKind) -> &'static str {
    match kind {
        DueKind::Timer => "timer",
        DueKind::ApprovalTimeout => "approval timeout",
        DueKind::Clock => "clock",
        DueKind::Schedule => "schedule",
    }
}
