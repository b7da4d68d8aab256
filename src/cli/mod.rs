//! The command line: one module per subcommand.

mod audit;
mod calendar;
mod check;
mod coverage;
mod deploy;
mod explain;
mod instance;
mod outbox;
mod runtime;
mod serve;
mod tick;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code when definitions have errors (or warnings under `--deny warnings`).
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code for usage and I/O errors.
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "pdca",
    version,
    about = "Check ISO/IEC 20000-1 process definitions and run them",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check process definitions and report diagnostics
    Check(check::Args),
    /// Report which ISO/IEC 20000-1 clauses the definitions cover
    Coverage(coverage::Args),
    /// Business time on a calendar: `add` a duration, time `between` two instants
    #[command(subcommand)]
    Calendar(calendar::Command),
    /// Explain a diagnostic code, e.g. `pdca explain E0304`
    Explain(explain::Args),
    /// Store the process definitions in the database (new versions for changed ones)
    Deploy(deploy::Args),
    /// Start instances, fire transitions, show instances and their history
    #[command(subcommand)]
    Instance(instance::Command),
    /// Check the audit trail: `pdca audit verify`
    #[command(subcommand)]
    Audit(audit::Command),
    /// Handle the work that is due: timer transitions (`after …`), approval timeouts, SLA warnings and breaches, and schedules
    Tick(tick::Args),
    /// List the notification outbox (`--pending`: not sent yet)
    Outbox(outbox::Args),
    /// Host the runtime over HTTP (deploys the definitions first)
    Serve(serve::Args),
    /// Bearer tokens for `pdca serve`: `pdca token new --actor A --roles R`
    #[command(subcommand)]
    Token(token::Command),
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Coverage(args) => coverage::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Calendar(command) => calendar::run(command),
        Command::Deploy(args) => deploy::run(args),
        Command::Instance(command) => instance::run(command),
        Command::Audit(command) => audit::run(command),
        Command::Tick(args) => tick::run(args),
        Command::Outbox(args) => outbox::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Token(command) => token::run(command),
    }
}
