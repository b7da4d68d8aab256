//! `pdca explain CODE`

use std::process::ExitCode;

use crate::diag::codes;

#[derive(clap::Args)]
pub struct Args {
    /// A diagnostic code such as E0304 or W0601; `list` shows them all
    code: String,
}

pub fn run(args: Args) -> ExitCode {
    if args.code == "list" {
        for c in codes::CODES {
            println!("{}  {}", c.code, c.title);
        }
        return ExitCode::SUCCESS;
    }
    match codes::lookup(&args.code) {
        Some(info) => {
            println!("{}: {}\n", info.code, info.title);
            print!("{}", info.explanation);
            ExitCode::SUCCESS
        }
        None => {
            eprintln!(
                "error: unknown diagnostic code `{}`; `pdca explain list` shows every code",
                args.code
            );
            ExitCode::from(super::EXIT_USAGE)
        }
    }
}
