//! `pdca instance start|fire|approve|reject|show|history|list`: drive
//! instances of the deployed definitions. Nothing is deployed implicitly: `start` uses the
//! latest deployed version, `fire` the version the instance started on.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Map, Value};

use super::runtime::{self, DbArgs, Format};
use crate::ir::Process;
use crate::runtime::approval::Decision;
use crate::runtime::values;
use crate::runtime::{Actor, Engine, RuntimeError};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Start an instance of a deployed process
    Start(StartArgs),
    /// Fire a transition on an instance
    Fire(FireArgs),
    /// Approve an open approval of an instance
    Approve(DecideArgs),
    /// Reject an open approval of an instance (moves it to the rejected state)
    Reject(DecideArgs),
    /// Show an instance: state, revision, record, next transitions, open approvals
    Show(IdArgs),
    /// Show an instance's events, oldest first
    History(IdArgs),
    /// List instances
    List(ListArgs),
    /// Show an instance's SLA clocks: status, target, elapsed, remaining, due
    Clocks(ClocksArgs),
}

#[derive(clap::Args)]
pub struct ClocksArgs {
    /// The instance id
    id: i64,
    /// The instant to measure at (RFC 3339); default: now
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(clap::Args)]
pub struct Fields {
    /// Who acts, with their roles: `alice:service_desk,resolver`
    #[arg(long = "as", value_name = "ACTOR:ROLE[,ROLE…]", value_parser = Actor::parse)]
    actor: Actor,
    /// Set a field, converted by its type: `--set impact=high`, `--set major=true`
    /// (an empty value clears a field)
    #[arg(long = "set", value_name = "FIELD=VALUE", value_parser = parse_set)]
    set: Vec<(String, String)>,
    /// Read fields from a JSON object in FILE (`-` for standard input);
    /// `--set` overrides them
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct StartArgs {
    /// The process to start, e.g. `incident`
    process: String,
    #[command(flatten)]
    fields: Fields,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(clap::Args)]
pub struct FireArgs {
    /// The instance id
    id: i64,
    /// The transition to fire, e.g. `classify`
    transition: String,
    #[command(flatten)]
    fields: Fields,
    /// Refuse unless the instance is still at this revision (as last read)
    #[arg(long, value_name = "N")]
    revision: Option<i64>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(clap::Args)]
pub struct DecideArgs {
    /// The instance id
    id: i64,
    /// The approval to decide, e.g. `cab_ok`
    approval: String,
    /// Who decides, with their roles: `carol:cab`
    #[arg(long = "as", value_name = "ACTOR:ROLE[,ROLE…]", value_parser = Actor::parse)]
    actor: Actor,
    /// A comment recorded with the decision
    #[arg(long, value_name = "TEXT")]
    comment: Option<String>,
    /// Refuse unless the instance is still at this revision (as last read)
    #[arg(long, value_name = "N")]
    revision: Option<i64>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(clap::Args)]
pub struct IdArgs {
    /// The instance id
    id: i64,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// Only instances of this process
    #[arg(long)]
    process: Option<String>,
    /// Only instances in this state
    #[arg(long)]
    state: Option<String>,
    /// At most this many instances (a page)
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    limit: u32,
    /// Only instances with an id greater than this (the next page)
    #[arg(long, value_name = "ID")]
    after: Option<i64>,
    #[command(flatten)]
    db: DbArgs,
}

fn parse_set(text: &str) -> Result<(String, String), String> {
    values::parse_assignment(text).map(|(k, v)| (k.to_string(), v.to_string()))
}

pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Start(a) => start(a),
        Command::Fire(a) => fire(a),
        Command::Approve(a) => decide(a, Decision::Approve),
        Command::Reject(a) => decide(a, Decision::Reject),
        Command::Show(a) => show(a),
        Command::History(a) => history(a),
        Command::List(a) => list(a),
        Command::Clocks(a) => clocks(a),
    }
}

/// Runs `op` against the database, reporting its error. The engine is
/// closed afterwards so that SQLite checkpoints cleanly.
fn with_engine<T, F>(args: &DbArgs, op: F) -> Result<T, ExitCode>
where
    F: AsyncFnOnce(&Engine) -> Result<T, RuntimeError>,
{
    runtime::block_on(async {
        let engine = runtime::connect(args).await?;
        let out = op(&engine)
            .await
            .map_err(|e| runtime::fail(&e, args.format));
        engine.store().close().await;
        out
    })?
}

/// The fields of `--json` and `--set`, converted by the record type.
fn read_fields(
    fields: &Fields,
    process: &Process,
) -> Result<Value, Result<RuntimeError, ExitCode>> {
    let mut map = match &fields.json {
        None => Map::new(),
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(path)
            }
            .map_err(|e| {
                Err(runtime::usage(format!(
                    "cannot read `{}`: {e}",
                    path.display()
                )))
            })?;
            match serde_json::from_str(&text) {
                Ok(Value::Object(map)) => map,
                Ok(_) => {
                    return Err(Err(runtime::usage(format!(
                        "`{}` must hold a JSON object of fields",
                        path.display()
                    ))))
                }
                Err(e) => {
                    return Err(Err(runtime::usage(format!(
                        "`{}` is not JSON: {e}",
                        path.display()
                    ))))
                }
            }
        }
    };
    for (name, raw) in &fields.set {
        let field = process.record.fields.iter().find(|f| &f.name == name);
        // Text that does not convert goes to the engine as it is, which
        // reports it with every other problem of the patch.
        let value =
            values::parse_cli_value(field, raw).unwrap_or_else(|_| Value::String(raw.into()));
        map.insert(name.clone(), value);
    }
    Ok(Value::Object(map))
}

fn start(args: StartArgs) -> ExitCode {
    let format = args.db.format;
    let result = with_engine(&args.db, async |engine| {
        let process = engine.definition(&args.process).await?;
        let fields = match read_fields(&args.fields, &process) {
            Ok(f) => f,
            Err(Ok(e)) => return Err(e),
            Err(Err(code)) => return Ok(Err(code)),
        };
        engine
            .start(&args.process, &args.fields.actor, &fields)
            .await
            .map(Ok)
    });
    match result {
        Ok(Ok(view)) => runtime::emit(&match format {
            Format::Json => runtime::json_text(&view),
            Format::Human => format!(
                "started {} {}\n{}",
                view.process,
                view.id,
                runtime::human_instance(&view)
            ),
        }),
        Ok(Err(code)) | Err(code) => code,
    }
}

fn fire(args: FireArgs) -> ExitCode {
    let format = args.db.format;
    let result = with_engine(&args.db, async |engine| {
        let process = engine.definition_of_instance(args.id).await?;
        let patch = match read_fields(&args.fields, &process) {
            Ok(f) => f,
            Err(Ok(e)) => return Err(e),
            Err(Err(code)) => return Ok(Err(code)),
        };
        engine
            .fire(
                args.id,
                &args.transition,
                &args.fields.actor,
                &patch,
                args.revision,
            )
            .await
            .map(Ok)
    });
    match result {
        Ok(Ok(view)) => runtime::emit(&match format {
            Format::Json => runtime::json_text(&view),
            Format::Human => format!(
                "fired `{}` on {} {}\n{}",
                args.transition,
                view.process,
                view.id,
                runtime::human_instance(&view)
            ),
        }),
        Ok(Err(code)) | Err(code) => code,
    }
}

fn decide(args: DecideArgs, decision: Decision) -> ExitCode {
    let format = args.db.format;
    let result = with_engine(&args.db, async |engine| {
        engine
            .decide(
                args.id,
                &args.approval,
                &args.actor,
                decision,
                args.comment.as_deref(),
                args.revision,
            )
            .await
    });
    match result {
        Ok(view) => runtime::emit(&match format {
            Format::Json => runtime::json_text(&view),
            Format::Human => format!(
                "{} `{}` on {} {} as `{}`\n{}",
                match decision {
                    Decision::Approve => "approved",
                    Decision::Reject => "rejected",
                },
                args.approval,
                view.process,
                view.id,
                args.actor.id,
                runtime::human_instance(&view)
            ),
        }),
        Err(code) => code,
    }
}

fn show(args: IdArgs) -> ExitCode {
    let format = args.db.format;
    match with_engine(&args.db, async |engine| engine.show(args.id).await) {
        Ok(view) => runtime::emit(&match format {
            Format::Json => runtime::json_text(&view),
            Format::Human => runtime::human_instance(&view),
        }),
        Err(code) => code,
    }
}

fn clocks(args: ClocksArgs) -> ExitCode {
    let now = match &args.now {
        None => jiff::Timestamp::now(),
        Some(text) => match crate::runtime::values::parse_instant(text) {
            Ok(t) => t,
            Err(e) => return runtime::usage(format!("--now: {e}")),
        },
    };
    let format = args.db.format;
    match with_engine(&args.db, async |engine| engine.clocks(args.id, now).await) {
        Ok(clocks) => runtime::emit(&match format {
            Format::Json => runtime::json_text(&json!({ "instance": args.id, "clocks": clocks })),
            Format::Human => {
                let mut s = String::new();
                for c in &clocks {
                    s += &format!(
                        "{}: {}{} elapsed {} of {}m {}, {} left, due {}\n",
                        c.sla,
                        c.status,
                        if c.breached && c.status != "breached" {
                            " (breached)"
                        } else {
                            ""
                        },
                        minutes_seconds(c.elapsed_seconds),
                        c.target_minutes,
                        if c.metric == "business" {
                            "business time"
                        } else {
                            "wall-clock time"
                        },
                        minutes_seconds(c.remaining_seconds),
                        c.due_at.as_deref().unwrap_or("-")
                    );
                    if !c.warnings.is_empty() {
                        s += &format!("  warnings reached: {}\n", c.warnings.join(", "));
                    }
                    if let Some(at) = &c.next_warning_at {
                        s += &format!("  next warning at {at}\n");
                    }
                }
                if clocks.is_empty() {
                    s += "no clocks\n";
                }
                s
            }
        }),
        Err(code) => code,
    }
}

/// `12m 05s` (`12m` on the minute).
fn minutes_seconds(secs: i64) -> String {
    match secs % 60 {
        0 => format!("{}m", secs / 60),
        s => format!("{}m {s:02}s", secs / 60),
    }
}

fn history(args: IdArgs) -> ExitCode {
    let format = args.db.format;
    let events = match with_engine(&args.db, async |engine| engine.history(args.id).await) {
        Ok(events) => events,
        Err(code) => return code,
    };
    let text = match format {
        Format::Json => runtime::json_text(&json!({ "instance": args.id, "events": events })),
        Format::Human => {
            let mut s = String::new();
            for e in &events {
                let roles = e
                    .roles
                    .as_array()
                    .map(|r| {
                        r.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default();
                let what = match (&e.transition, &e.from) {
                    (Some(t), Some(from)) if e.kind != "fire" => {
                        format!("{t} {}: {from} -> {}", e.kind, e.to)
                    }
                    (Some(t), Some(from)) => format!("{t}: {from} -> {}", e.to),
                    _ => format!("{} in {}", e.kind, e.to),
                };
                s += &format!("#{:<3} {}  {} [{roles}]  {what}\n", e.seq, e.at, e.actor);
                if let Value::Object(patch) = &e.patch {
                    for (k, v) in patch {
                        s += &format!("       {k} = {}\n", runtime::human_value(v));
                    }
                }
            }
            s
        }
    };
    runtime::emit(&text)
}

fn list(args: ListArgs) -> ExitCode {
    let format = args.db.format;
    let rows = match with_engine(&args.db, async |engine| {
        engine
            .list(
                args.process.as_deref(),
                args.state.as_deref(),
                args.limit,
                args.after,
            )
            .await
    }) {
        Ok(rows) => rows,
        Err(code) => return code,
    };
    // A full page may have more after it.
    let next = if rows.len() == args.limit as usize {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let text = match format {
        Format::Json => runtime::json_text(&json!({ "instances": rows, "next": next })),
        Format::Human => {
            let pw = rows
                .iter()
                .map(|r| r.process.len())
                .max()
                .unwrap_or(7)
                .max(7);
            let sw = rows.iter().map(|r| r.state.len()).max().unwrap_or(5).max(5);
            let mut s = format!(
                "{:>6}  {:pw$}  {:>3}  {:sw$}  {:>4}  updated\n",
                "id", "process", "v", "state", "rev"
            );
            for r in &rows {
                s += &format!(
                    "{:>6}  {:pw$}  {:>3}  {:sw$}  {:>4}  {}\n",
                    r.id, r.process, r.version, r.state, r.revision, r.updated_at
                );
            }
            s += &format!(
                "{} instance{}\n",
                rows.len(),
                if rows.len() == 1 { "" } else { "s" }
            );
            if let Some(next) = next {
                s += &format!("next: --after {next}\n");
            }
            s
        }
    };
    runtime::emit(&text)
}
