//! `pdca audit verify`: check every instance's event chain.

use std::process::ExitCode;

use super::runtime::{self, DbArgs, Format};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Verify the hash chain of every instance's events and that each
    /// instance's state and record are what its events lead to
    Verify(VerifyArgs),
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    db: DbArgs,
}

pub fn run(command: Command) -> ExitCode {
    let Command::Verify(args) = command;
    let args = args.db;
    let result = runtime::block_on(async {
        let engine = runtime::connect(&args).await?;
        let report = engine
            .verify()
            .await
            .map_err(|e| runtime::fail(&e, args.format));
        engine.store().close().await;
        report
    });
    let report = match result {
        Ok(Ok(report)) => report,
        Ok(Err(code)) | Err(code) => return code,
    };
    let text = match args.format {
        Format::Json => runtime::json_text(&report),
        Format::Human => {
            let mut s = String::new();
            for p in &report.problems {
                let at = p
                    .seq
                    .map(|s| format!(", event seq {s}"))
                    .unwrap_or_default();
                s += &format!(
                    "instance {} ({}){at}: {}\n",
                    p.instance, p.process, p.message
                );
            }
            if report.ok {
                s += &format!(
                    "OK: {} instance{}, {} event{} verified\n",
                    report.instances,
                    if report.instances == 1 { "" } else { "s" },
                    report.events,
                    if report.events == 1 { "" } else { "s" },
                );
            } else {
                s += &format!(
                    "FAILED: {} of {} instance{} have a broken history ({} events checked)\n",
                    report.problems.len(),
                    report.instances,
                    if report.instances == 1 { "" } else { "s" },
                    report.events
                );
            }
            s
        }
    };
    let code = runtime::emit(&text);
    if !report.ok {
        return ExitCode::from(super::EXIT_FINDINGS);
    }
    code
}
