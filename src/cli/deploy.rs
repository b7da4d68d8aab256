//! `pdca deploy`: compile the definitions and store them in the database.

use std::process::ExitCode;

use serde_json::json;

use super::runtime::{self, DbArgs, Format};
use crate::diag::render;
use crate::runtime::engine::DeployStatus;
use crate::{compile, load};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: DbArgs,
}

pub fn run(args: Args) -> ExitCode {
    let args = args.db;
    let inputs = match load::collect(std::slice::from_ref(&args.processes)) {
        Ok(inputs) if !inputs.is_empty() => inputs,
        Ok(_) => {
            return runtime::usage(format!(
                "no .pdca files found in `{}`",
                args.processes.display()
            ))
        }
        Err(e) => return runtime::usage(e),
    };
    let compilation = compile(inputs);
    let Some(program) = &compilation.program else {
        eprint!(
            "{}",
            render::human(&compilation.sources, &compilation.diagnostics, false)
        );
        eprintln!(
            "error: the definitions have {} error(s); nothing was deployed",
            compilation.errors()
        );
        return ExitCode::from(super::EXIT_FINDINGS);
    };
    let result = runtime::block_on(async {
        let engine = runtime::connect(&args).await?;
        let report = engine
            .deploy(program)
            .await
            .map_err(|e| runtime::fail(&e, args.format));
        engine.store().close().await;
        report
    });
    let report = match result {
        Ok(Ok(report)) => report,
        Ok(Err(code)) | Err(code) => return code,
    };
    let count = |s: DeployStatus| report.processes.iter().filter(|p| p.status == s).count();
    let text = match args.format {
        Format::Json => runtime::json_text(&json!({
            "db": runtime::shown_url(&args),
            "processes": report.processes,
        })),
        Format::Human => {
            let width = report
                .processes
                .iter()
                .map(|p| p.process.len())
                .max()
                .unwrap_or(0);
            let mut s = String::new();
            for p in &report.processes {
                let status = match p.status {
                    DeployStatus::Created => "created",
                    DeployStatus::Updated => "updated (new version)",
                    DeployStatus::Unchanged => "unchanged",
                    DeployStatus::Reactivated => "reactivated (earlier version)",
                };
                s += &format!("{:width$}  v{:<3} {status}\n", p.process, p.version);
            }
            s += &format!(
                "deployed {} process{} to {}: {} created, {} updated, {} reactivated, {} unchanged\n",
                report.processes.len(),
                if report.processes.len() == 1 { "" } else { "es" },
                runtime::shown_url(&args),
                count(DeployStatus::Created),
                count(DeployStatus::Updated),
                count(DeployStatus::Reactivated),
                count(DeployStatus::Unchanged),
            );
            s
        }
    };
    runtime::emit(&text)
}
