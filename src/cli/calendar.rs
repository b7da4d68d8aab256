//! `pdca calendar add|between`: business time on a calendar of the project
//! (or the stdlib), to try out SLA targets and timers by hand.
//!
//! The calendar is looked up by name among the calendars declared in the
//! `--processes` folder (default `processes/`, which may be missing) and in
//! the stdlib; stdlib calendars need no `use` here. The definitions must
//! compile: with errors, they are shown and the exit status is 1, as for
//! `pdca coverage`. Usage errors (unknown calendar, bad time or duration,
//! business months) exit with 2.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};
use serde_json::json;

use super::check::Format;
use crate::check::resolve::suggest;
use crate::diag::render;
use crate::ir;
use crate::runtime::calendar::BusinessCalendar;
use crate::syntax::{self, ast, duration_text};
use crate::{compile, load};

#[derive(clap::Subcommand)]
pub enum Command {
    /// When a duration counted from START is up, e.g.
    /// `pdca calendar add office_hours 2026-11-20T15:00 5 business days`
    Add(AddArgs),
    /// Working time between START and END, e.g.
    /// `pdca calendar between office_hours 2026-11-20T15:00 2026-11-24T09:00`
    Between(BetweenArgs),
}

#[derive(clap::Args)]
pub struct AddArgs {
    /// Calendar name: a project calendar, or a stdlib one such as `business_hours`
    calendar: String,
    /// `2026-11-20T15:00:00Z` or `2026-11-20T15:00+01:00` (RFC 3339), or a
    /// local time in the calendar's zone such as `2026-11-20T15:00`
    start: String,
    /// A duration as in pdca files: `4h`, `30m`, `3d`, `5 business days`
    /// (quoted or as separate words)
    #[arg(required = true, num_args = 1..)]
    duration: Vec<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub struct BetweenArgs {
    /// Calendar name: a project calendar, or a stdlib one such as `business_hours`
    calendar: String,
    /// Start (included): RFC 3339, or a local time in the calendar's zone
    start: String,
    /// End (excluded): RFC 3339, or a local time in the calendar's zone
    end: String,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
struct Common {
    /// Folder (or file) of definitions that declare calendars [default: processes/, if present]
    #[arg(long, value_name = "DIR")]
    processes: Option<PathBuf>,
    /// Output format: `human` or `json` (one object)
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

/// Why a command stopped: the message (if not already shown) and the exit code.
struct Failure {
    code: u8,
    message: String,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: super::EXIT_USAGE,
        message: message.into(),
    }
}

pub fn run(command: Command) -> ExitCode {
    let result = match command {
        Command::Add(args) => add(args),
        Command::Between(args) => between(args),
    };
    match result {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(text.as_bytes()) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("error: cannot write output: {e}");
                    return ExitCode::from(super::EXIT_USAGE);
                }
            }
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn add(args: AddArgs) -> Result<String, Failure> {
    // Check the cheap arguments before compiling anything.
    let text = args.duration.join(" ");
    let duration = duration_text::parse_duration(&text).map_err(usage)?;
    let duration = crate::lower::duration(&duration);
    let cal = find_calendar(&args.common, &args.calendar)?;
    let start = parse_instant(&args.start, &cal)?;
    let result = cal
        .add(start, &duration)
        .map_err(|e| usage(e.to_string()))?;
    let tz = cal.time_zone();
    let worked = cal.between(start, result);
    match args.common.format {
        Format::Json => Ok(json_line(json!({
            "calendar": cal.name(),
            "zone": cal.zone(),
            "start": rfc3339_local(start, tz),
            "start_utc": start.to_string(),
            "duration": duration,
            "duration_text": describe(&duration),
            "result": rfc3339_local(result, tz),
            "result_utc": result.to_string(),
            "business_minutes": worked.as_secs() / 60,
        }))),
        Format::Human => {
            let mut from = format!("from {}", human_time(start, tz));
            if duration.business && duration.amount > 0 && !cal.is_working(start) {
                if let Ok(next) = cal.next_working(start) {
                    from.push_str(&format!(
                        " (outside working hours: counted from {})",
                        human_time(next, tz)
                    ));
                }
            }
            Ok(format!(
                "{} ({})\n{}\n{} {} in calendar `{}` ({})\n",
                human_time(result, tz),
                cal.zone(),
                human_time(result, &TimeZone::UTC),
                describe(&duration),
                from,
                cal.name(),
                cal.zone()
            ))
        }
    }
}

fn between(args: BetweenArgs) -> Result<String, Failure> {
    let cal = find_calendar(&args.common, &args.calendar)?;
    let start = parse_instant(&args.start, &cal)?;
    let end = parse_instant(&args.end, &cal)?;
    let worked = cal.between(start, end);
    let tz = cal.time_zone();
    match args.common.format {
        Format::Json => Ok(json_line(json!({
            "calendar": cal.name(),
            "zone": cal.zone(),
            "start": rfc3339_local(start, tz),
            "start_utc": start.to_string(),
            "end": rfc3339_local(end, tz),
            "end_utc": end.to_string(),
            "business_time": hours_minutes(worked),
            "business_minutes": worked.as_secs() / 60,
            "business_seconds": worked.as_secs(),
        }))),
        Format::Human => {
            let note = if end <= start {
                " (the end is not after the start)"
            } else {
                ""
            };
            Ok(format!(
                "{} of business time ({} minutes)\nfrom {} to {} in calendar `{}` ({}){}\n",
                hours_minutes(worked),
                worked.as_secs() / 60,
                human_time(start, tz),
                human_time(end, tz),
                cal.name(),
                cal.zone(),
                note
            ))
        }
    }
}

fn json_line(value: serde_json::Value) -> String {
    format!("{value}\n")
}

/// Compiles the definitions and builds the named calendar.
fn find_calendar(common: &Common, name: &str) -> Result<BusinessCalendar, Failure> {
    let inputs = match &common.processes {
        Some(dir) => load::collect(std::slice::from_ref(dir)).map_err(|e| usage(e.to_string()))?,
        None => {
            let dir = PathBuf::from("processes");
            if dir.exists() {
                load::collect(&[dir]).map_err(|e| usage(e.to_string()))?
            } else {
                Vec::new()
            }
        }
    };
    let folder = common
        .processes
        .as_ref()
        .map_or_else(|| "processes".to_string(), |p| p.display().to_string());
    let compilation = compile(inputs);
    if compilation.errors() > 0 {
        eprint!(
            "{}",
            render::human(&compilation.sources, &compilation.diagnostics, false)
        );
        return Err(Failure {
            code: super::EXIT_FINDINGS,
            message: format!(
                "the definitions in `{folder}` have {} error(s); fix them before using their calendars",
                compilation.errors()
            ),
        });
    }
    // Every declared calendar, the project's before the stdlib's.
    let mut project = Vec::new();
    let mut stdlib = Vec::new();
    for file in compilation.sources.files() {
        let (parsed, _) = syntax::parse(file.id, &file.text);
        if file.is_stdlib {
            stdlib.extend(parsed.calendars);
        } else {
            project.extend(parsed.calendars);
        }
    }
    let all: Vec<&ast::Calendar> = project.iter().chain(&stdlib).collect();
    match all.iter().find(|c| c.name.name == name) {
        Some(c) => {
            BusinessCalendar::new(&crate::lower::calendar(c)).map_err(|e| usage(e.to_string()))
        }
        None => {
            let mut names: Vec<&str> = all.iter().map(|c| c.name.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            let hint = match suggest(name, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "known calendars: {}",
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            Err(usage(format!("unknown calendar `{name}`; {hint}")))
        }
    }
}

/// An instant: RFC 3339 with an offset (or `Z`), RFC 9557 with a zone
/// annotation, or a civil time in the calendar's zone (see
/// [`BusinessCalendar::local`] for times that do not exist or repeat).
fn parse_instant(text: &str, cal: &BusinessCalendar) -> Result<Timestamp, Failure> {
    let t = text.trim();
    // An offset that does not exist is refused, never read as local time.
    crate::runtime::values::check_offset(t).map_err(usage)?;
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(z) = t.parse::<Zoned>() {
        return Ok(z.timestamp());
    }
    if !t.contains(['Z', 'z', '[']) {
        if let Ok(dt) = t.parse::<DateTime>() {
            return cal.local(dt).map_err(|e| usage(e.to_string()));
        }
    }
    Err(usage(format!(
        "`{t}` is not a time: write RFC 3339 with an offset (`2026-11-20T15:00:00Z`, `2026-11-20T15:00+01:00`) or a local time in the calendar's zone (`2026-11-20T15:00`)"
    )))
}

fn rfc3339_local(t: Timestamp, tz: &TimeZone) -> String {
    t.display_with_offset(tz.to_offset(t)).to_string()
}

/// `Fri 2026-11-20 15:00 GMT` (with seconds when there are any).
fn human_time(t: Timestamp, tz: &TimeZone) -> String {
    let z = t.to_zoned(tz.clone());
    let pattern = if z.second() != 0 || z.subsec_nanosecond() != 0 {
        "%a %Y-%m-%d %H:%M:%S %Z"
    } else {
        "%a %Y-%m-%d %H:%M %Z"
    };
    z.strftime(pattern).to_string()
}

/// `17h 30m`, `45m`, `0m` (plus seconds when there are any).
fn hours_minutes(d: SignedDuration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3_600, secs % 3_600 / 60, secs % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 || (h == 0 && s == 0) {
        parts.push(format!("{m}m"));
    }
    if s > 0 {
        parts.push(format!("{s}s"));
    }
    parts.join(" ")
}

/// `5 business days`, `1 hour`.
fn describe(d: &ir::Duration) -> String {
    let unit = match d.unit {
        ir::DurationUnit::Minutes => "minute",
        ir::DurationUnit::Hours => "hour",
        ir::DurationUnit::Days => "day",
        ir::DurationUnit::Weeks => "week",
        ir::DurationUnit::Months => "month",
        ir::DurationUnit::Years => "year",
    };
    format!(
        "{} {}{}{}",
        d.amount,
        if d.business { "business " } else { "" },
        unit,
        if d.amount == 1 { "" } else { "s" }
    )
}
