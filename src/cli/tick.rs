//! `pdca tick`: fire the timer transitions that are due.

use std::process::ExitCode;

use super::runtime::{self, DbArgs, Format};

#[derive(clap::Args)]
pub struct Args {
    /// The instant to fire timers due at or before (RFC 3339, e.g.
    /// `2026-03-02T09:00:00Z`); default: now
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    #[command(flatten)]
    db: DbArgs,
}

pub fn run(args: Args) -> ExitCode {
    let now = match &args.now {
        None => jiff::Timestamp::now(),
        Some(text) => match text.parse::<jiff::Timestamp>() {
            Ok(t) => t,
            Err(e) => return runtime::usage(format!("--now `{text}`: {e}")),
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
        Format::Human => {
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
            s += &format!(
                "{} timer{} fired, {} skipped (now {})\n",
                report.fired.len(),
                if report.fired.len() == 1 { "" } else { "s" },
                report.skipped.len(),
                report.now
            );
            s
        }
    };
    runtime::emit(&text)
}
