//! Record values: checking a patch against the record type, applying it,
//! computing derived fields, converting command-line text and handing the
//! record to guards.
//!
//! A record is a JSON object holding only the fields that are set (an unset
//! field is absent, never `null`). A patch is a JSON object of changes;
//! `null` clears a field. Patches are *normalized* before they are stored in
//! an event: log entries get their time and author, durations their
//! canonical spelling, defaults are spelt out at start. Replaying the stored
//! patches with [`apply_patch`] therefore rebuilds the record exactly,
//! without a clock or the actor's input.

use serde_json::{Map, Value};

use crate::ir::{self, Field, FieldType, Process};
use crate::syntax::ast;

use super::error::{FieldProblem, ProblemKind};

pub type Record = Map<String, Value>;

/// Longest text a field may hold (bytes).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Most elements in a `list of T` or entries appended to a log at once.
pub const MAX_LIST_LEN: usize = 1_000;

/// Who and when, for the log entries a patch appends.
#[derive(Debug, Clone, Copy)]
pub struct EntryContext<'a> {
    pub at: &'a str,
    pub actor: &'a str,
}

/// Whether a field holds a value: null, an empty log and a text that is
/// empty or only whitespace (`--set org_id=`, `{"org_id": " "}`) are unset,
/// so `required` and `required at` refuse them.
pub fn is_set(record: &Record, field: &str) -> bool {
    match record.get(field) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

fn problem(field: &str, kind: ProblemKind, message: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: field.to_string(),
        kind,
        message: message.into(),
    }
}

/// Checks a patch (a JSON object of field values) against the record type
/// and returns it normalized. `starting`: the patch is the initial record,
/// where `null` just means "not set".
pub fn normalize_patch(
    process: &Process,
    input: &Value,
    ctx: EntryContext<'_>,
    starting: bool,
) -> Result<Record, Vec<FieldProblem>> {
    let Value::Object(input) = input else {
        return Err(vec![problem(
            "",
            ProblemKind::WrongType,
            format!("the fields must be a JSON object, not {}", json_kind(input)),
        )]);
    };
    let mut problems = Vec::new();
    let mut out = Record::new();
    for (name, value) in input {
        let Some(field) = process.record.fields.iter().find(|f| &f.name == name) else {
            let names = process.record.fields.iter().map(|f| f.name.as_str());
            let mut msg = format!("record `{}` has no such field", process.record.name);
            if let Some(s) = crate::check::resolve::suggest(name, names) {
                msg.push_str(&format!("; did you mean `{s}`?"));
            }
            problems.push(problem(name, ProblemKind::Unknown, msg));
            continue;
        };
        if let Some(d) = &field.derived {
            problems.push(problem(
                name,
                ProblemKind::Derived,
                format!(
                    "is computed by `{}` from {} and cannot be set",
                    d.matrix,
                    d.args
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            continue;
        }
        if value.is_null() {
            if starting {
                continue;
            }
            if field.ty == FieldType::Log {
                problems.push(problem(
                    name,
                    ProblemKind::AppendOnly,
                    "is a log: entries can be appended, never removed",
                ));
            } else {
                out.insert(name.clone(), Value::Null);
            }
            continue;
        }
        match check_value(&field.ty, value, ctx) {
            Ok(v) => {
                out.insert(name.clone(), v);
            }
            Err((kind, msg)) => problems.push(problem(name, kind, msg)),
        }
    }
    if starting {
        for field in &process.record.fields {
            if out.contains_key(&field.name) || field.derived.is_some() {
                continue;
            }
            if let Some(default) = &field.default {
                // Defaults were checked by the compiler; normalize their spelling.
                if let Ok(v) = check_value(&field.ty, default, ctx) {
                    out.insert(field.name.clone(), v);
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn shown(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 40 {
        let cut: String = text.chars().take(40).collect();
        format!("{cut}…")
    } else {
        text
    }
}

type Refusal = (ProblemKind, String);

/// An instant written in RFC 3339 (`2026-03-02T09:00:00Z`,
/// `2026-03-02T10:00:00+01:00`), as `--now` and the API take it; the
/// message names what is wrong. See [`check_offset`].
pub fn parse_instant(text: &str) -> Result<jiff::Timestamp, String> {
    let t: jiff::Timestamp = text.parse().map_err(|e: jiff::Error| {
        format!("`{text}` is not a time in RFC 3339 (e.g. `2026-03-02T09:00:00Z`): {e}")
    })?;
    check_offset(text)?;
    Ok(t)
}

/// Refuses a UTC offset RFC 3339 does not allow: one of 24 hours or more
/// (`+25:00`) or with seconds. jiff's parser takes offsets up to
/// ±25:59:59, which would silently move the instant by more than a day.
/// Texts without an offset, or that do not parse, pass (the caller's parser
/// decides about them).
pub fn check_offset(text: &str) -> Result<(), String> {
    let Ok(pieces) = jiff::fmt::temporal::Pieces::parse(text) else {
        return Ok(());
    };
    let Some(offset) = pieces.to_numeric_offset() else {
        return Ok(());
    };
    let secs = offset.seconds();
    if secs.abs() >= 24 * 3600 || secs % 60 != 0 {
        return Err(format!(
            "`{text}` has the UTC offset `{offset}`, which does not exist: \
             an offset lies between -23:59 and +23:59 in whole minutes"
        ));
    }
    Ok(())
}

/// Text may not hold the NUL character: PostgreSQL cannot store it in
/// text or JSON, so it is refused on both backends alike.
fn nul_refusal() -> Refusal {
    (
        ProblemKind::InvalidText,
        "text cannot contain the NUL character (U+0000)".into(),
    )
}

/// The refusal of a text argument that holds a NUL character (see
/// [`check_value`]), named `field`.
pub fn nul_problem(field: &str, text: &str) -> Option<FieldProblem> {
    text.contains('\0').then(|| {
        let (kind, message) = nul_refusal();
        problem(field, kind, message)
    })
}

fn wrong(expected: &str, got: &Value) -> Refusal {
    (
        ProblemKind::WrongType,
        format!("expected {expected}, got {}", shown(got)),
    )
}

/// Checks one value against a type and returns its normalized form.
pub fn check_value(ty: &FieldType, v: &Value, ctx: EntryContext<'_>) -> Result<Value, Refusal> {
    match ty {
        FieldType::Text => match v {
            Value::String(s) if s.contains('\0') => Err(nul_refusal()),
            Value::String(s) if s.len() <= MAX_TEXT_BYTES => Ok(v.clone()),
            Value::String(s) => Err((
                ProblemKind::WrongType,
                format!(
                    "text is too long ({} bytes, the limit is {MAX_TEXT_BYTES})",
                    s.len()
                ),
            )),
            _ => Err(wrong("text", v)),
        },
        FieldType::Int => match v.as_i64() {
            Some(_) => Ok(v.clone()),
            None => Err(wrong("a whole number", v)),
        },
        FieldType::Decimal => match v {
            Value::Number(_) => Ok(v.clone()),
            _ => Err(wrong("a number", v)),
        },
        FieldType::Bool => match v {
            Value::Bool(_) => Ok(v.clone()),
            _ => Err(wrong("true or false", v)),
        },
        FieldType::Date => match v {
            Value::String(s) if is_date(s) => Ok(v.clone()),
            _ => Err(wrong("a date written YYYY-MM-DD", v)),
        },
        FieldType::Datetime => match v {
            Value::String(s) if s.contains('T') && s.parse::<jiff::Timestamp>().is_ok() => {
                match check_offset(s) {
                    Ok(()) => Ok(v.clone()),
                    Err(reason) => Err((ProblemKind::WrongType, reason)),
                }
            }
            _ => Err(wrong(
                "a date and time in RFC 3339, e.g. 2026-03-01T09:30:00Z",
                v,
            )),
        },
        FieldType::Duration => duration_value(v).ok_or_else(|| {
            wrong(
                "a duration such as `30m`, `4h`, `3d`, `2w` or `5 business days`",
                v,
            )
        }),
        FieldType::Level | FieldType::Priority | FieldType::Enum(_) => {
            let values = ty.values().unwrap_or_default();
            match v {
                Value::String(s) if values.contains(&s.as_str()) => Ok(v.clone()),
                _ => {
                    let mut msg =
                        format!("expected one of {}, got {}", values.join(", "), shown(v));
                    if let Value::String(s) = v {
                        if let Some(near) =
                            crate::check::resolve::suggest(s, values.iter().copied())
                        {
                            msg.push_str(&format!("; did you mean `{near}`?"));
                        }
                    }
                    Err((ProblemKind::WrongType, msg))
                }
            }
        }
        FieldType::Ref(p) => match ref_id(v) {
            Some(id) => Ok(Value::from(id)),
            None => Err(wrong(&format!("the id of a `{p}` instance"), v)),
        },
        FieldType::Log => log_entries(v, ctx),
        FieldType::List(inner) => match v {
            Value::Array(items) if items.len() <= MAX_LIST_LEN => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    check_value(inner, item, ctx)
                        .map_err(|(kind, msg)| (kind, format!("element {}: {msg}", i + 1)))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Array(items) => Err((
                ProblemKind::WrongType,
                format!(
                    "the list has {} elements, the limit is {MAX_LIST_LEN}",
                    items.len()
                ),
            )),
            _ => Err(wrong(&format!("a list of {}", inner.describe()), v)),
        },
    }
}

fn is_date(s: &str) -> bool {
    s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok()
}

/// An instance id: a positive integer, or its decimal text.
fn ref_id(v: &Value) -> Option<i64> {
    let id = match v {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        _ => return None,
    };
    (id > 0).then_some(id)
}

/// A duration as text (`4h`, `5 business days`) or as the compiler writes
/// defaults (`{"amount": 4, "unit": "hours", "business": false}`), spelt
/// canonically.
fn duration_value(v: &Value) -> Option<Value> {
    let (amount, unit, business) = match v {
        Value::String(s) => {
            let d = crate::syntax::duration_text::parse_duration(s).ok()?;
            let unit = match d.unit {
                ast::DurationUnit::Minutes => ir::DurationUnit::Minutes,
                ast::DurationUnit::Hours => ir::DurationUnit::Hours,
                ast::DurationUnit::Days => ir::DurationUnit::Days,
                ast::DurationUnit::Weeks => ir::DurationUnit::Weeks,
                ast::DurationUnit::Months => ir::DurationUnit::Months,
                ast::DurationUnit::Years => ir::DurationUnit::Years,
            };
            (d.amount, unit, d.business)
        }
        Value::Object(_) => {
            let d: ir::Duration = serde_json::from_value(v.clone()).ok()?;
            (d.amount, d.unit, d.business)
        }
        _ => return None,
    };
    let word = match unit {
        ir::DurationUnit::Minutes => "minute",
        ir::DurationUnit::Hours => "hour",
        ir::DurationUnit::Days => "day",
        ir::DurationUnit::Weeks => "week",
        ir::DurationUnit::Months => "month",
        ir::DurationUnit::Years => "year",
    };
    let plural = if amount == 1 { "" } else { "s" };
    let business = if business { "business " } else { "" };
    Some(Value::String(format!("{amount} {business}{word}{plural}")))
}

/// Entries to append to a log: a text, an object `{"text": …}`, or a list
/// of those. The time and author come from the operation, never the input.
fn log_entries(v: &Value, ctx: EntryContext<'_>) -> Result<Value, Refusal> {
    let entry = |item: &Value| -> Result<Value, Refusal> {
        let text = match item {
            Value::String(s) => s,
            Value::Object(o) => {
                if let Some(k) = o.keys().find(|k| k.as_str() != "text") {
                    return Err((
                        ProblemKind::WrongType,
                        format!("a log entry has only a `text`; its time and author are recorded by pdca (found `{k}`)"),
                    ));
                }
                match o.get("text") {
                    Some(Value::String(s)) => s,
                    _ => return Err(wrong("a log entry `{\"text\": …}`", item)),
                }
            }
            _ => return Err(wrong("the text of a log entry", item)),
        };
        if text.trim().is_empty() {
            return Err((ProblemKind::WrongType, "a log entry cannot be empty".into()));
        }
        if text.contains('\0') {
            return Err(nul_refusal());
        }
        if text.len() > MAX_TEXT_BYTES {
            return Err((
                ProblemKind::WrongType,
                format!("a log entry is limited to {MAX_TEXT_BYTES} bytes"),
            ));
        }
        let mut e = Map::new();
        e.insert("at".into(), Value::String(ctx.at.to_string()));
        e.insert("actor".into(), Value::String(ctx.actor.to_string()));
        e.insert("text".into(), Value::String(text.clone()));
        Ok(Value::Object(e))
    };
    match v {
        Value::Array(items) if items.len() > MAX_LIST_LEN => Err((
            ProblemKind::WrongType,
            format!("at most {MAX_LIST_LEN} log entries can be added at once"),
        )),
        Value::Array(items) => items
            .iter()
            .map(entry)
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        _ => entry(v).map(|e| Value::Array(vec![e])),
    }
}

/// Applies a normalized patch: `null` clears a field, log entries are
/// appended, anything else replaces the value. Derived fields are then
/// recomputed.
pub fn apply_patch(process: &Process, record: &mut Record, patch: &Record) {
    for (name, value) in patch {
        let is_log = process
            .record
            .fields
            .iter()
            .any(|f| &f.name == name && f.ty == FieldType::Log);
        match value {
            Value::Null => {
                record.remove(name);
            }
            Value::Array(entries) if is_log => {
                let slot = record
                    .entry(name.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                match slot {
                    Value::Array(existing) => existing.extend(entries.iter().cloned()),
                    other => *other = Value::Array(entries.clone()),
                }
            }
            _ => {
                record.insert(name.clone(), value.clone());
            }
        }
    }
    recompute_derived(process, record);
}

/// Sets every derived field from its matrix, or clears it while an input
/// is unset.
pub fn recompute_derived(process: &Process, record: &mut Record) {
    for field in &process.record.fields {
        let Some(d) = &field.derived else { continue };
        let inputs: Option<Vec<&str>> = d
            .args
            .iter()
            .map(|a| record.get(a).and_then(Value::as_str))
            .collect();
        let out = inputs.and_then(|inputs| {
            d.table
                .iter()
                .find(|(row, _)| row.iter().map(String::as_str).eq(inputs.iter().copied()))
                .map(|(_, out)| out.clone())
        });
        match out {
            Some(v) => {
                record.insert(field.name.clone(), Value::String(v));
            }
            None => {
                record.remove(&field.name);
            }
        }
    }
}

/// The fields among `names` that the record does not hold, in order.
pub fn missing<'a>(record: &Record, names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        if !is_set(record, name) && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// Fields that must be set in state `state`: `required` ones and those
/// `required at` it.
pub fn required_in<'p>(process: &'p Process, state: &'p str) -> impl Iterator<Item = &'p str> {
    process
        .record
        .fields
        .iter()
        .filter(move |f| f.required || f.required_at.iter().any(|s| s == state))
        .map(|f| f.name.as_str())
}

/// Every instance a normalized patch links to: (field, process, id).
pub fn references(process: &Process, patch: &Record) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    for (name, value) in patch {
        let Some(field) = process.record.fields.iter().find(|f| &f.name == name) else {
            continue;
        };
        match (&field.ty, value) {
            (FieldType::Ref(p), v) => {
                if let Some(id) = v.as_i64() {
                    out.push((name.clone(), p.clone(), id));
                }
            }
            (FieldType::List(inner), Value::Array(items)) => {
                if let FieldType::Ref(p) = inner.as_ref() {
                    for id in items.iter().filter_map(Value::as_i64) {
                        out.push((name.clone(), p.clone(), id));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Converts `--set field=value` text by the field's type. Unknown fields
/// stay text so that validation names them.
pub fn parse_cli_value(field: Option<&Field>, raw: &str) -> Result<Value, String> {
    let Some(field) = field else {
        return Ok(Value::String(raw.to_string()));
    };
    if raw.is_empty() && field.ty != FieldType::Text && field.ty != FieldType::Log {
        return Ok(Value::Null);
    }
    cli_value(&field.ty, raw).map_err(|e| format!("`{}`: {e}", field.name))
}

fn cli_value(ty: &FieldType, raw: &str) -> Result<Value, String> {
    Ok(match ty {
        FieldType::Int => Value::from(
            raw.trim()
                .parse::<i64>()
                .map_err(|_| format!("`{raw}` is not a whole number"))?,
        ),
        FieldType::Decimal => {
            let n = raw
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .ok_or_else(|| format!("`{raw}` is not a number"))?;
            Value::Number(n)
        }
        FieldType::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "on" => Value::Bool(true),
            "false" | "no" | "n" | "0" | "off" => Value::Bool(false),
            _ => return Err(format!("`{raw}` is not true or false")),
        },
        FieldType::Ref(_) => match raw.trim().parse::<i64>() {
            Ok(id) => Value::from(id),
            Err(_) => Value::String(raw.to_string()),
        },
        FieldType::List(inner) => {
            let trimmed = raw.trim();
            if trimmed.starts_with('[') {
                serde_json::from_str(trimmed)
                    .map_err(|e| format!("`{raw}` is not a JSON list: {e}"))?
            } else {
                Value::Array(
                    trimmed
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|item| cli_value(inner, item))
                        .collect::<Result<_, _>>()?,
                )
            }
        }
        _ => Value::String(raw.to_string()),
    })
}

/// Splits `field=value`.
pub fn parse_assignment(text: &str) -> Result<(&str, &str), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim(), v)),
        _ => Err(format!("`{text}` is not `field=value`")),
    }
}

/// A JSON value as a rhai value: objects become maps, arrays arrays,
/// `null` the unit `()`.
pub fn to_dynamic(v: &Value) -> rhai::Dynamic {
    match v {
        Value::Null => rhai::Dynamic::UNIT,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or(f64::NAN).into(),
        },
        Value::String(s) => s.clone().into(),
        Value::Array(items) => items.iter().map(to_dynamic).collect::<rhai::Array>().into(),
        Value::Object(map) => {
            let mut m = rhai::Map::new();
            for (k, v) in map {
                m.insert(k.as_str().into(), to_dynamic(v));
            }
            m.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CTX: EntryContext<'static> = EntryContext {
        at: "2026-01-01T00:00:00.000000Z",
        actor: "alice",
    };

    #[test]
    fn instants_refuse_offsets_that_do_not_exist() {
        assert!(parse_instant("2026-03-02T09:00:00Z").is_ok());
        assert!(parse_instant("2026-03-02T09:00:00-23:59").is_ok());
        let e = parse_instant("2026-03-02T09:00:00+25:00").unwrap_err();
        assert!(e.contains("+25") && e.contains("-23:59 and +23:59"), "{e}");
        assert!(parse_instant("2026-03-02T09:00:00+24:00").is_err());
        assert!(parse_instant("2026-03-02T09:00:00+05:30:15").is_err());
        assert!(parse_instant("tomorrow").is_err());
    }

    #[test]
    fn scalar_types() {
        let ok = |ty: FieldType, v: Value| check_value(&ty, &v, CTX);
        assert!(ok(FieldType::Int, json!(3)).is_ok());
        assert!(ok(FieldType::Int, json!(3.5)).is_err());
        assert!(ok(FieldType::Date, json!("2026-02-28")).is_ok());
        assert!(ok(FieldType::Date, json!("2026-02-30")).is_err());
        assert!(ok(FieldType::Date, json!("2026-2-3")).is_err());
        assert!(ok(FieldType::Datetime, json!("2026-02-28T10:00:00+01:00")).is_ok());
        assert!(ok(FieldType::Datetime, json!("2026-02-28")).is_err());
        assert!(ok(FieldType::Datetime, json!("2026-02-28T10:00:00+25:00")).is_err());
        assert!(ok(FieldType::Datetime, json!("2026-02-28T10:00:00-24:00")).is_err());
        assert!(ok(FieldType::Datetime, json!("2026-02-28T10:00:00+23:59")).is_ok());
        assert_eq!(
            ok(FieldType::Duration, json!("5 business days")).ok(),
            Some(json!("5 business days"))
        );
        assert_eq!(
            ok(FieldType::Duration, json!("4h")).ok(),
            Some(json!("4 hours"))
        );
        assert!(ok(FieldType::Duration, json!("soon")).is_err());
        assert!(ok(FieldType::Level, json!("high")).is_ok());
        assert!(ok(FieldType::Priority, json!("P5")).is_err());
        assert_eq!(
            ok(FieldType::Ref("p".into()), json!("12")).ok(),
            Some(json!(12))
        );
        assert!(ok(FieldType::Ref("p".into()), json!(0)).is_err());
        let list = FieldType::List(Box::new(FieldType::Int));
        assert!(ok(list.clone(), json!([1, 2])).is_ok());
        assert!(ok(list, json!([1, "x"])).is_err());
    }

    #[test]
    fn log_entries_get_time_and_author() {
        let v = check_value(&FieldType::Log, &json!("called back"), CTX).unwrap_or_default();
        assert_eq!(
            v,
            json!([{"at": CTX.at, "actor": "alice", "text": "called back"}])
        );
        assert!(check_value(&FieldType::Log, &json!({"text": "x", "actor": "bob"}), CTX).is_err());
    }

    #[test]
    fn cli_values_follow_the_type() {
        let f = |ty: FieldType| Field {
            name: "f".into(),
            origin: Default::default(),
            ty,
            required: false,
            required_at: vec![],
            default: None,
            derived: None,
        };
        assert_eq!(
            parse_cli_value(Some(&f(FieldType::Bool)), "true"),
            Ok(json!(true))
        );
        assert_eq!(
            parse_cli_value(Some(&f(FieldType::Int)), "42"),
            Ok(json!(42))
        );
        assert!(parse_cli_value(Some(&f(FieldType::Int)), "x").is_err());
        assert_eq!(
            parse_cli_value(Some(&f(FieldType::List(Box::new(FieldType::Text)))), "a, b"),
            Ok(json!(["a", "b"]))
        );
        assert_eq!(
            parse_cli_value(Some(&f(FieldType::Level)), ""),
            Ok(Value::Null)
        );
    }
}
