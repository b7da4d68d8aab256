//! What the runtime commands (`deploy`, `instance`, `audit`) share: the
//! database and output options, the async runtime, error reporting.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Value};

use crate::runtime::engine::InstanceView;
use crate::runtime::store::{redact, DEFAULT_URL};
use crate::runtime::{Engine, RuntimeError};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(clap::Args)]
pub struct DbArgs {
    /// Database: `sqlite://FILE` (created on first use) or `postgres://USER@HOST/DB`
    #[arg(long, value_name = "URL", default_value = DEFAULT_URL)]
    pub db: String,
    /// Folder of process definitions (what `deploy` stores)
    #[arg(long, value_name = "DIR", default_value = "processes/")]
    pub processes: PathBuf,
    /// Output format: `human` (default) or `json`
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// Runs a future on a fresh single-threaded runtime.
pub fn block_on<F: Future>(f: F) -> Result<F::Output, ExitCode> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Ok(rt.block_on(f)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            Err(ExitCode::from(super::EXIT_USAGE))
        }
    }
}

/// Connects to the database named by `--db`.
pub async fn connect(args: &DbArgs) -> Result<Engine, ExitCode> {
    Engine::connect(&args.db)
        .await
        .map_err(|e| fail(&e, args.format))
}

/// Reports an error on stderr; exit 1 for a refusal, 2 for anything else.
pub fn fail(e: &RuntimeError, format: Format) -> ExitCode {
    match format {
        Format::Human => {
            eprintln!("error: {e}");
            if let Some(help) = e.help() {
                eprintln!("help: {help}");
            }
        }
        Format::Json => {
            let mut obj = json!({
                "error": e.code(),
                "message": e.to_string(),
                "help": e.help(),
            });
            if let RuntimeError::InvalidFields { problems } = e {
                obj["problems"] = serde_json::to_value(problems).unwrap_or(Value::Null);
            }
            eprintln!("{obj}");
        }
    }
    ExitCode::from(if e.is_refusal() {
        super::EXIT_FINDINGS
    } else {
        super::EXIT_USAGE
    })
}

/// A usage error (bad argument, unreadable file): exit 2.
pub fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(super::EXIT_USAGE)
}

/// Writes to stdout; a closed pipe is not an error.
pub fn emit(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => usage(format!("cannot write output: {e}")),
    }
}

/// Pretty JSON and a newline.
pub fn json_text(v: &impl serde::Serialize) -> String {
    match serde_json::to_string_pretty(v) {
        Ok(s) => s + "\n",
        Err(e) => format!("{{\"error\": \"cannot serialize output: {e}\"}}\n"),
    }
}

/// The database URL without its password.
pub fn shown_url(args: &DbArgs) -> String {
    redact(&args.db)
}

/// An instance for people: a header, the fields, what can happen next.
pub fn human_instance(v: &InstanceView) -> String {
    let mut s = format!(
        "{} {} (version {}) is `{}` at revision {}\n",
        v.process, v.id, v.version, v.state, v.revision
    );
    s += &format!("  created {}, updated {}\n", v.created_at, v.updated_at);
    if let Value::Object(record) = &v.record {
        let width = record.keys().map(|k| k.len()).max().unwrap_or(0);
        for (k, val) in record {
            s += &format!("  {k:width$}  {}\n", human_value(val));
        }
    }
    if v.next.is_empty() {
        s += "  no transitions can be fired from here\n";
    } else {
        s += &format!("  next: {}\n", v.next.join(", "));
    }
    for a in &v.approvals {
        s += &format!(
            "  approval `{}` open (approvers {}, quorum {}, requested by {}): ",
            a.name,
            a.approvers.join(", "),
            a.quorum,
            a.requester
        );
        if a.decisions.is_empty() {
            s += "no decisions yet\n";
        } else {
            let ds: Vec<String> = a
                .decisions
                .iter()
                .map(|d| {
                    let mut t = format!("{} by {}", d.decision.as_str(), d.actor);
                    if let Some(c) = &d.comment {
                        t += &format!(" ({})", c.replace('\n', "\\n"));
                    }
                    t
                })
                .collect();
            s += &format!("{}\n", ds.join("; "));
        }
        if let Some(seq) = a.timed_out_seq {
            s += &format!("    timed out (event seq {seq})\n");
        } else if let Some(at) = &a.timeout_due_at {
            s += &format!("    times out at {at}\n");
        }
    }
    if let Some(by) = &v.spawned_by {
        s += &format!("  spawned by {} {}\n", by.process, by.instance);
    }
    for c in &v.spawned {
        s += &format!("  spawned {} {} (event {}", c.process, c.instance, c.seq);
        if let Some(f) = &c.field {
            s += &format!(", linked in `{f}`");
        }
        s += ")\n";
    }
    for e in &v.escalations {
        s += &format!(
            "  escalation `{}` raised in `{}` at {} (event {})",
            e.title.as_deref().unwrap_or(&e.name),
            e.state,
            e.at,
            e.seq
        );
        if let Some(role) = &e.assign {
            s += &format!(", assigned to {role}");
        }
        s += "\n";
    }
    s
}

/// A value in one line: text without quotes, log entries counted.
pub fn human_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.replace('\n', "\\n"),
        Value::Array(items)
            if items
                .iter()
                .all(|i| i.get("at").is_some() && i.get("text").is_some()) =>
        {
            let last = items
                .last()
                .and_then(|i| i.get("text"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            format!(
                "{} entr{} (latest: {})",
                items.len(),
                if items.len() == 1 { "y" } else { "ies" },
                last.replace('\n', "\\n")
            )
        }
        other => other.to_string(),
    }
}
