//! `pdca token new --actor A --roles r1,r2`: a fresh random bearer token
//! for `pdca serve`, printed once, with the tokens-file entry (its SHA-256
//! hash, actor and roles) to paste into the server's tokens file.

use std::process::ExitCode;

use serde_json::json;

use super::runtime::{self, Format};
use crate::server::auth::{self, TokenEntry};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Make a new token: prints the token once and the entry for the tokens file
    New(NewArgs),
}

#[derive(clap::Args)]
pub struct NewArgs {
    /// The actor id the token acts as, e.g. `alice`
    #[arg(long, value_name = "ID")]
    actor: String,
    /// The actor's roles, comma-separated: `service_desk,resolver`
    #[arg(
        long,
        value_name = "ROLE[,ROLE…]",
        value_delimiter = ',',
        default_value = ""
    )]
    roles: Vec<String>,
    /// Output format: `human` (default) or `json`
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

pub fn run(command: Command) -> ExitCode {
    match command {
        Command::New(args) => new(args),
    }
}

fn new(args: NewArgs) -> ExitCode {
    let entry = TokenEntry {
        sha256: String::new(),
        actor: args.actor.trim().to_string(),
        roles: args
            .roles
            .iter()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect(),
    };
    let token = match auth::new_token() {
        Ok(t) => t,
        Err(e) => return runtime::usage(e),
    };
    let entry = TokenEntry {
        sha256: auth::hash_token(&token),
        ..entry
    };
    // The same checks the server applies when it loads the file.
    if let Err(e) = auth::Tokens::from_entries(vec![entry.clone()]) {
        return runtime::usage(e);
    }
    let text = match args.format {
        Format::Json => runtime::json_text(&json!({ "token": token, "entry": entry })),
        Format::Human => {
            let toml = match auth::toml_entry(&entry) {
                Ok(t) => t,
                Err(e) => return runtime::usage(format!("cannot write the entry: {e}")),
            };
            format!(
                "token for `{}` (shown once; only its hash is stored):\n{token}\n\n\
                 add to the tokens file (`pdca serve --tokens FILE`):\n{toml}",
                entry.actor
            )
        }
    };
    runtime::emit(&text)
}
