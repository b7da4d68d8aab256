//! The notification outbox: `on enter … notify`, SLA `warn at … notify`
//! and `breach escalate to`, approval `timeout … escalate to` and raised
//! `escalation` rules write one row per recipient role, rendered with
//! handlebars, in the
//! transaction of the event that triggers them. The unique key (instance,
//! event seq, kind, role) makes each notification exist once per event; a
//! sender (not part of pdca yet) delivers rows and sets `sent_at`.
//!
//! A template that fails to render does not fail the event: its row holds
//! the error text as body and the engine counts it.

use handlebars::Handlebars;
use serde_json::{json, Value};

use super::error::RuntimeError;
use super::store::{OutboxRow, Tx};
use super::values::Record;
use crate::ir::{Approval, Escalation, Process, Sla, Warn};

/// Kind of a row written on entering a state.
pub const KIND_ON_ENTER: &str = "on_enter";
/// Kind of a row written when an SLA is breached.
pub const KIND_BREACH: &str = "breach";
/// Kind of a row written when an escalation rule is raised.
pub const KIND_ESCALATION: &str = "escalation";
/// Kind of a row written when an SLA clock reaches a warn threshold.
pub const KIND_WARN: &str = "warn";
/// Kind of a row written when an approval times out.
pub const KIND_APPROVAL_TIMEOUT: &str = "approval_timeout";
/// The role that names the instance's starting actor.
pub const REQUESTER: &str = "requester";

/// What a notification is about: the instance after the triggering event.
pub(crate) struct Subject<'a> {
    pub id: i64,
    pub seq: i64,
    pub state: &'a str,
    pub record: &'a Record,
    /// The actor who started the instance.
    pub requester: &'a str,
    pub created_at: &'a str,
    pub at: &'a str,
}

fn registry() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(false);
    hb.register_escape_fn(handlebars::no_escape);
    hb
}

fn process_title(p: &Process) -> String {
    p.title.clone().unwrap_or_else(|| p.name.clone())
}

fn variables(process: &Process, s: &Subject<'_>, role: &str) -> Value {
    let state_title = process
        .states
        .iter()
        .find(|st| st.name == s.state)
        .and_then(|st| st.title.clone())
        .unwrap_or_else(|| s.state.to_string());
    let recipient_id = (role == REQUESTER).then(|| s.requester.to_string());
    json!({
        "record": Value::Object(s.record.clone()),
        "instance": {
            "id": s.id,
            "process": process.name,
            "state": s.state,
            "title": format!("{} {}", process_title(process), s.id),
            "url": format!("pdca://{}/{}", process.name, s.id),
            "revision": s.seq,
            "created_at": s.created_at,
        },
        "process": { "name": process.name, "title": process_title(process) },
        "recipient": { "role": role, "id": recipient_id },
        "state": { "name": s.state, "title": state_title },
    })
}

/// Renders (subject, body); the error text as body when rendering fails.
fn render(
    process: &Process,
    template: Option<&str>,
    default: (String, String),
    vars: &Value,
) -> ((String, String), bool) {
    let Some(name) = template else {
        return (default, false);
    };
    let Some(t) = process.templates.iter().find(|t| t.name == name) else {
        return (
            (
                default.0,
                format!("template `{name}` is not in the definition"),
            ),
            true,
        );
    };
    let hb = registry();
    let subject = hb.render_template(&t.subject, vars);
    let body = hb.render_template(&t.body, vars);
    match (subject, body) {
        (Ok(s), Ok(b)) => ((s, b), false),
        (Err(e), _) | (_, Err(e)) => (
            (
                default.0,
                format!("template `{name}` failed to render: {e}"),
            ),
            true,
        ),
    }
}

/// The rows of one notification, one per role, rendered; and how many
/// failed to render.
#[allow(clippy::too_many_arguments)]
fn rows(
    process: &Process,
    s: &Subject<'_>,
    kind: &str,
    roles: &[String],
    template: Option<&str>,
    extra: Option<(&str, Value)>,
    default: impl Fn(&str) -> (String, String),
) -> (Vec<OutboxRow>, usize) {
    let mut errors = 0;
    let mut out = Vec::with_capacity(roles.len());
    for role in roles {
        let mut vars = variables(process, s, role);
        if let (Some((key, value)), Value::Object(map)) = (&extra, &mut vars) {
            map.insert(key.to_string(), value.clone());
        }
        let ((subject, body), failed) = render(process, template, default(role), &vars);
        errors += usize::from(failed);
        out.push(OutboxRow {
            id: 0,
            instance_id: s.id,
            event_seq: s.seq,
            kind: kind.to_string(),
            recipient_role: role.clone(),
            recipient_id: (role == REQUESTER).then(|| s.requester.to_string()),
            subject,
            body,
            created_at: s.at.to_string(),
            sent_at: None,
        });
    }
    (out, errors)
}

#[allow(clippy::too_many_arguments)]
async fn write<T: Tx>(
    tx: &mut T,
    process: &Process,
    s: &Subject<'_>,
    kind: &str,
    roles: &[String],
    template: Option<&str>,
    extra: Option<(&str, Value)>,
    default: impl Fn(&str) -> (String, String),
) -> Result<usize, RuntimeError> {
    let (out, errors) = rows(process, s, kind, roles, template, extra, default);
    insert(tx, &out).await?;
    Ok(errors)
}

async fn insert<T: Tx>(tx: &mut T, rows: &[OutboxRow]) -> Result<(), RuntimeError> {
    for row in rows {
        tx.insert_outbox(row).await?;
    }
    Ok(())
}

/// Writes the rows of every `on enter` naming the state just entered;
/// returns how many failed to render.
pub(crate) async fn on_entry<T: Tx>(
    tx: &mut T,
    process: &Process,
    s: &Subject<'_>,
) -> Result<usize, RuntimeError> {
    let mut errors = 0;
    let title = process_title(process);
    for on in &process.on_enter {
        if !on.states.iter().any(|st| st == s.state) {
            continue;
        }
        let default = |_: &str| {
            let text = format!("{title} {} is now {}", s.id, s.state);
            (text.clone(), format!("{text}.\n"))
        };
        errors += write(
            tx,
            process,
            s,
            KIND_ON_ENTER,
            &on.notify,
            on.template.as_deref(),
            None,
            default,
        )
        .await?;
    }
    Ok(errors)
}

fn minutes_text(m: i64) -> String {
    match (m / 60, m % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m}m"),
    }
}

/// The rows of an SLA breach, and how many failed to render.
pub(crate) fn breach_rows(
    process: &Process,
    sla: &Sla,
    s: &Subject<'_>,
    target_minutes: i64,
    due_at: &str,
) -> (Vec<OutboxRow>, usize) {
    let sla_title = sla.title.clone().unwrap_or_else(|| sla.name.clone());
    let target = minutes_text(target_minutes);
    let vars = json!({
        "name": sla.name,
        "title": sla_title,
        "target": target,
        "elapsed": target,
        "remaining": minutes_text(0),
        "percent": 100,
        "due_at": due_at,
    });
    let title = process_title(process);
    let default = |_: &str| {
        let subject = format!("SLA breached: {sla_title} for {title} {}", s.id);
        let body = format!(
            "The {target} target of {sla_title} was breached for {title} {} (state {}).\n",
            s.id, s.state
        );
        (subject, body)
    };
    rows(
        process,
        s,
        KIND_BREACH,
        &sla.breach_escalate_to,
        sla.breach_template.as_deref(),
        Some(("sla", vars)),
        default,
    )
}

/// What a `warn` notification says about the clock.
pub(crate) struct WarnFacts<'a> {
    pub target_minutes: i64,
    pub elapsed_minutes: i64,
    /// When the clock breaches if it keeps running.
    pub due_at: &'a str,
}

/// The rows of an SLA warning, and how many failed to render.
pub(crate) fn warn_rows(
    process: &Process,
    sla: &Sla,
    warn: &Warn,
    s: &Subject<'_>,
    facts: &WarnFacts<'_>,
) -> (Vec<OutboxRow>, usize) {
    let sla_title = sla.title.clone().unwrap_or_else(|| sla.name.clone());
    let target = minutes_text(facts.target_minutes);
    let vars = json!({
        "name": sla.name,
        "title": sla_title,
        "target": target,
        "elapsed": minutes_text(facts.elapsed_minutes),
        "remaining": minutes_text((facts.target_minutes - facts.elapsed_minutes).max(0)),
        // `75`, not `75.0`, in the rendered text.
        "percent": if warn.percent.fract() == 0.0 && warn.percent.abs() < 1e9 {
            json!(warn.percent as i64)
        } else {
            json!(warn.percent)
        },
        "due_at": facts.due_at,
    });
    let title = process_title(process);
    let default = |_: &str| {
        let subject = format!("SLA warning: {sla_title} for {title} {}", s.id);
        let body = format!(
            "{}% of the {target} target of {sla_title} has elapsed for {title} {} (state {}).\n\
             It breaches at {}.\n",
            warn.percent, s.id, s.state, facts.due_at
        );
        (subject, body)
    };
    rows(
        process,
        s,
        KIND_WARN,
        &warn.notify,
        warn.template.as_deref(),
        Some(("sla", vars)),
        default,
    )
}

/// Writes the rows of an approval timeout (`escalate to` roles); returns
/// how many failed to render. `requested_at` is when the round opened.
pub(crate) async fn on_approval_timeout<T: Tx>(
    tx: &mut T,
    process: &Process,
    approval: &Approval,
    s: &Subject<'_>,
    requested_at: &str,
) -> Result<usize, RuntimeError> {
    let approval_title = approval
        .title
        .clone()
        .unwrap_or_else(|| approval.name.clone());
    let vars = json!({
        "name": approval.name,
        "title": approval_title,
        "state": approval.state,
        "requested_at": requested_at,
    });
    let title = process_title(process);
    let default = |_: &str| {
        let subject = format!("Approval overdue: {approval_title} for {title} {}", s.id);
        let body = format!(
            "Approval {approval_title} for {title} {} has waited since {requested_at} \
             without a decision.\n",
            s.id
        );
        (subject, body)
    };
    write(
        tx,
        process,
        s,
        KIND_APPROVAL_TIMEOUT,
        &approval.timeout_escalate_to,
        approval.timeout_template.as_deref(),
        Some(("approval", vars)),
        default,
    )
    .await
}

/// Writes the rows of a raised escalation rule (the subject's event is the
/// `escalation` event); returns how many failed to render.
pub(crate) async fn on_escalation<T: Tx>(
    tx: &mut T,
    process: &Process,
    rule: &Escalation,
    s: &Subject<'_>,
) -> Result<usize, RuntimeError> {
    let rule_title = rule.title.clone().unwrap_or_else(|| rule.name.clone());
    let vars = json!({ "name": rule.name, "title": rule_title });
    let title = process_title(process);
    let default = |_: &str| {
        let subject = format!("Escalation: {rule_title} on {title} {}", s.id);
        let body = format!(
            "{title} {} was escalated: {rule_title} (state {}).\n",
            s.id, s.state
        );
        (subject, body)
    };
    let mut errors = 0;
    for notify in &rule.notify {
        errors += write(
            tx,
            process,
            s,
            KIND_ESCALATION,
            &notify.roles,
            notify.template.as_deref(),
            Some(("escalation", vars.clone())),
            default,
        )
        .await?;
    }
    Ok(errors)
}
