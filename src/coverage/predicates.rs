//! One small function per obligation predicate. Each looks at the
//! definitions that claim the clause and returns the constructs that meet it
//! (their locations are the evidence), or nothing.

use std::collections::HashMap;

use super::reach::Reach;

use super::interval;
use crate::ir::{Document, Duration, FieldType, Origin, Predicate, Process, Program};

/// The definitions that claim one clause.
pub struct Claimants<'a> {
    pub program: &'a Program,
    pub standard: &'a str,
    pub processes: Vec<&'a Process>,
    pub documents: Vec<&'a Document>,
    /// The reachable part of every process, by process name.
    pub reach: &'a HashMap<&'a str, Reach<'a>>,
}

impl Claimants<'_> {
    fn reachable(&self, p: &Process, state: &str) -> bool {
        self.reach
            .get(p.name.as_str())
            .is_some_and(|r| r.state(state))
    }

    /// Whether a construct attached to `states` can happen; otherwise why not.
    fn attached(&self, p: &Process, states: &[String]) -> Verdict {
        if states.iter().any(|s| self.reachable(p, s)) {
            None
        } else {
            Some(unreachable_in(p, states))
        }
    }
}

/// Why a candidate construct is no evidence (`None`: it is evidence).
type Verdict = Option<String>;

fn unreachable_in(p: &Process, states: &[String]) -> String {
    let names: Vec<String> = states.iter().map(|s| format!("`{s}`")).collect();
    format!(
        "only in unreachable state{} {} of process `{}`",
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        p.name
    )
}

/// Evidence for a predicate, or why there is none: the reason of the first
/// candidate that did not count, or `None` when there was no candidate.
pub fn evaluate(p: &Predicate, c: &Claimants) -> Result<Vec<Origin>, Option<String>> {
    let candidates = match p {
        Predicate::State { tag } => state(c, tag),
        Predicate::Transition { from_tag, to_tag } => transition(c, from_tag, to_tag),
        Predicate::Field { names, derived } => field(c, names, *derived),
        Predicate::FieldOfType { ty } => field_of_type(c, ty),
        Predicate::Role { role: r } => role(c, r),
        Predicate::Owner => owner(c),
        Predicate::Approval { before_tag } => approval(c, before_tag.as_deref()),
        Predicate::Sla { until_tag } => sla(c, until_tag.as_deref()),
        Predicate::Escalation { to } => escalation(c, to.as_deref()),
        Predicate::Notification { to } => notification(c, to.as_deref()),
        Predicate::Schedule { max } => schedule(c, max.as_ref()),
        Predicate::Document { max_review } => document(c, max_review.as_ref()),
        Predicate::Link { clause } => link(c, clause),
        Predicate::LinkFrom { clause } => link_from(c, clause),
    };
    let mut why = None;
    let mut found = Vec::new();
    for (origin, verdict) in candidates {
        match verdict {
            None => found.push(origin),
            Some(reason) => {
                why.get_or_insert(reason);
            }
        }
    }
    if found.is_empty() {
        Err(why)
    } else {
        Ok(found)
    }
}

/// The origins of the named states, as evidence that holds.
fn states_of<'s>(
    p: &Process,
    names: impl IntoIterator<Item = &'s String>,
) -> Vec<(Origin, Verdict)> {
    names
        .into_iter()
        .filter_map(|n| p.state(n))
        .map(|s| (s.origin.clone(), None))
        .collect()
}

fn has_tag(p: &Process, state: &str, tag: &str) -> bool {
    p.state(state)
        .is_some_and(|s| s.tags.iter().any(|t| t == tag))
}

fn state(c: &Claimants, tag: &str) -> Vec<(Origin, Verdict)> {
    let mut out = Vec::new();
    for p in &c.processes {
        for s in p.states.iter().filter(|s| s.tags.iter().any(|t| t == tag)) {
            out.push((
                s.origin.clone(),
                c.attached(p, std::slice::from_ref(&s.name)),
            ));
        }
    }
    out
}

fn transition(c: &Claimants, from: &str, to: &str) -> Vec<(Origin, Verdict)> {
    let mut out = Vec::new();
    for p in &c.processes {
        for t in &p.transitions {
            let from_states: Vec<String> = t
                .from
                .iter()
                .filter(|f| has_tag(p, f, from))
                .cloned()
                .collect();
            if !has_tag(p, &t.to, to) || from_states.is_empty() {
                continue;
            }
            let verdict = if !super::reach::fires(t) {
                Some(format!(
                    "only in transition `{}`, which can never fire (no role, no timer, or a guard that is always false)",
                    t.name
                ))
            } else {
                c.attached(p, &from_states)
            };
            if verdict.is_none() {
                // The tagged states are part of the evidence.
                out.extend(states_of(p, from_states.iter().chain([&t.to])));
            }
            out.push((t.origin.clone(), verdict));
        }
        for a in &p.approvals {
            for target in [&a.approved, &a.rejected] {
                if has_tag(p, &a.state, from) && has_tag(p, target, to) {
                    let verdict = c.attached(p, std::slice::from_ref(&a.state));
                    if verdict.is_none() {
                        out.extend(states_of(p, [&a.state, target]));
                    }
                    out.push((a.origin.clone(), verdict));
                }
            }
        }
    }
    out
}

/// Whether the definition makes a field exist when it matters: `required`,
/// `required at` a reachable state, required by a transition an instance can
/// take, derived, or given a non-empty default. Returns the constructs that
/// enforce it besides the field itself, or `None` when nothing does.
fn enforced(c: &Claimants, p: &Process, f: &crate::ir::Field) -> Option<Vec<Origin>> {
    let non_empty_default = f.default.as_ref().is_some_and(|v| match v {
        serde_json::Value::String(s) => !s.trim().is_empty(),
        serde_json::Value::Null => false,
        _ => true,
    });
    if f.required || f.derived.is_some() || non_empty_default {
        return Some(Vec::new());
    }
    let at: Vec<Origin> = f
        .required_at
        .iter()
        .filter(|s| c.reachable(p, s))
        .filter_map(|s| p.state(s))
        .map(|s| s.origin.clone())
        .collect();
    if !at.is_empty() {
        return Some(Vec::new());
    }
    let by: Vec<Origin> = p
        .transitions
        .iter()
        .filter(|t| {
            super::reach::fires(t)
                && t.requires.contains(&f.name)
                && t.from.iter().any(|s| c.reachable(p, s))
        })
        .map(|t| t.origin.clone())
        .collect();
    (!by.is_empty()).then_some(by)
}

fn field(c: &Claimants, names: &[String], derived: bool) -> Vec<(Origin, Verdict)> {
    let mut out = Vec::new();
    for p in &c.processes {
        for f in p.record.fields.iter().filter(|f| names.contains(&f.name)) {
            let enforcing = enforced(c, p, f);
            let verdict = if derived && f.derived.is_none() {
                Some(format!(
                    "`{}` in process `{}` is not derived",
                    f.name, p.name
                ))
            } else if enforcing.is_none() {
                Some(format!(
                    "`{}` in process `{}` is declared but never required",
                    f.name, p.name
                ))
            } else {
                None
            };
            if verdict.is_none() {
                out.extend(enforcing.unwrap_or_default().into_iter().map(|o| (o, None)));
            }
            out.push((f.origin.clone(), verdict));
        }
    }
    out
}

fn field_of_type(c: &Claimants, ty: &str) -> Vec<(Origin, Verdict)> {
    let matches = |t: &FieldType| match t {
        FieldType::Ref(_) => ty == "ref",
        FieldType::Enum(_) => ty == "enum",
        FieldType::List(_) => ty == "list",
        other => other.describe() == ty,
    };
    c.processes
        .iter()
        .flat_map(|p| p.record.fields.iter())
        .filter(|f| matches(&f.ty))
        .map(|f| (f.origin.clone(), None))
        .collect()
}

fn role(c: &Claimants, role: &str) -> Vec<(Origin, Verdict)> {
    let mut out: Vec<(Origin, Verdict)> = c
        .processes
        .iter()
        .filter(|p| p.roles.iter().any(|r| r.name == role))
        .map(|p| (p.origin.clone(), None))
        .collect();
    out.extend(
        c.documents
            .iter()
            .filter(|d| d.owner.as_deref() == Some(role) || d.approved_by.iter().any(|r| r == role))
            .map(|d| (d.origin.clone(), None)),
    );
    out
}

fn owner(c: &Claimants) -> Vec<(Origin, Verdict)> {
    c.processes
        .iter()
        .filter(|p| p.owner.is_some())
        .map(|p| (p.origin.clone(), None))
        .chain(
            c.documents
                .iter()
                .filter(|d| d.owner.is_some())
                .map(|d| (d.origin.clone(), None)),
        )
        .collect()
}

/// Without a tag: an approval an instance can reach. With a tag: a state
/// with the tag is reachable, and approvals gate it (see
/// `check::approval_gates`: no path around an approved outcome, no re-entry
/// without a fresh approval unless declared `preapproved`).
fn approval(c: &Claimants, before: Option<&str>) -> Vec<(Origin, Verdict)> {
    let mut out = Vec::new();
    for p in &c.processes {
        if p.approvals.is_empty() {
            continue;
        }
        let live: Vec<&crate::ir::Approval> = p
            .approvals
            .iter()
            .filter(|a| c.reachable(p, &a.state))
            .collect();
        let Some(tag) = before else {
            out.extend(p.approvals.iter().map(|a| {
                (
                    a.origin.clone(),
                    c.attached(p, std::slice::from_ref(&a.state)),
                )
            }));
            continue;
        };
        let tagged: Vec<String> = p
            .states
            .iter()
            .filter(|s| s.tags.iter().any(|t| t == tag))
            .map(|s| s.name.clone())
            .collect();
        if tagged.is_empty() {
            continue;
        }
        let origin = p.approvals[0].origin.clone();
        if live.is_empty() {
            let states: Vec<String> = p.approvals.iter().map(|a| a.state.clone()).collect();
            out.push((origin, Some(unreachable_in(p, &states))));
            continue;
        }
        if let Some(why) = c.attached(p, &tagged) {
            out.push((origin, Some(why)));
            continue;
        }
        let verdict = c
            .reach
            .get(p.name.as_str())
            .and_then(|r| r.bypass(|s| has_tag(p, s, tag)))
            .map(|path| format!("in process `{}` a `{tag}` state is {path}", p.name));
        match verdict {
            Some(why) => out.push((origin, Some(why))),
            None => {
                out.extend(live.iter().map(|a| (a.origin.clone(), None)));
                out.extend(states_of(p, tagged.iter().filter(|s| c.reachable(p, s))));
            }
        }
    }
    out
}

fn sla(c: &Claimants, until: Option<&str>) -> Vec<(Origin, Verdict)> {
    let mut out = Vec::new();
    for p in &c.processes {
        for s in &p.slas {
            let stops: Vec<String> = match until {
                Some(tag) => s
                    .until
                    .iter()
                    .filter(|u| has_tag(p, u, tag))
                    .cloned()
                    .collect(),
                None => s.until.clone(),
            };
            if stops.is_empty() {
                continue;
            }
            let verdict = c.attached(p, &s.from).or_else(|| c.attached(p, &stops));
            if verdict.is_none() && until.is_some() {
                out.extend(states_of(p, stops.iter().filter(|u| c.reachable(p, u))));
            }
            out.push((s.origin.clone(), verdict));
        }
    }
    out
}

fn escalation(c: &Claimants, to: Option<&str>) -> Vec<(Origin, Verdict)> {
    let wanted =
        |roles: &[String]| !roles.is_empty() && to.is_none_or(|r| roles.iter().any(|x| x == r));
    let mut out = Vec::new();
    for p in &c.processes {
        for e in &p.escalations {
            let mut roles: Vec<String> = e.notify.iter().flat_map(|n| n.roles.clone()).collect();
            roles.extend(e.assign.clone());
            if wanted(&roles) {
                out.push((e.origin.clone(), dead_escalation(e)));
            }
        }
        for s in &p.slas {
            if wanted(&s.breach_escalate_to) {
                out.push((s.origin.clone(), c.attached(p, &s.from)));
            }
        }
        for a in &p.approvals {
            if wanted(&a.timeout_escalate_to) {
                out.push((
                    a.origin.clone(),
                    c.attached(p, std::slice::from_ref(&a.state)),
                ));
            }
        }
    }
    out
}

/// An escalation whose condition is the constant `false` never triggers.
fn dead_escalation(e: &crate::ir::Escalation) -> Verdict {
    super::reach::never(&e.condition).then(|| {
        format!(
            "only in escalation `{}`, whose condition is always false",
            e.name
        )
    })
}

/// A spawn guarded by the constant `false` never starts anything.
fn dead_spawn(s: &crate::ir::Spawn) -> Verdict {
    s.guard
        .as_deref()
        .is_some_and(super::reach::never)
        .then(|| {
            format!(
                "only in a spawn of `{}` whose condition is always false",
                s.process
            )
        })
}

fn notification(c: &Claimants, to: Option<&str>) -> Vec<(Origin, Verdict)> {
    let wanted =
        |roles: &[String]| !roles.is_empty() && to.is_none_or(|r| roles.iter().any(|x| x == r));
    let mut out = Vec::new();
    for p in &c.processes {
        out.extend(
            p.on_enter
                .iter()
                .filter(|o| wanted(&o.notify))
                .map(|o| (o.origin.clone(), c.attached(p, &o.states))),
        );
        for s in &p.slas {
            if s.warns.iter().any(|w| wanted(&w.notify)) {
                out.push((s.origin.clone(), c.attached(p, &s.from)));
            }
        }
        for e in &p.escalations {
            if e.notify.iter().any(|n| wanted(&n.roles)) {
                out.push((e.origin.clone(), dead_escalation(e)));
            }
        }
    }
    out
}

fn schedule(c: &Claimants, max: Option<&Duration>) -> Vec<(Origin, Verdict)> {
    let mut out = Vec::new();
    for p in &c.processes {
        let Some(every) = &p.schedule else {
            continue;
        };
        let verdict = max.filter(|m| !interval::within(every, m)).map(|m| {
            format!(
                "process `{}` runs every {}, longer than the planned interval of at most {}",
                p.name,
                interval::describe(every),
                interval::describe(m)
            )
        });
        out.push((p.origin.clone(), verdict));
    }
    out
}

/// Why a document is not controlled documented information (`None`: it
/// is): it needs an owner, an approver and a review interval.
pub fn controlled(d: &Document) -> Option<String> {
    let mut missing = Vec::new();
    if d.owner.is_none() {
        missing.push("no owner");
    }
    if d.approved_by.is_empty() {
        missing.push("no approver");
    }
    if d.review.is_none() {
        missing.push("no review interval");
    }
    (!missing.is_empty()).then(|| missing.join(", "))
}

/// A controlled document: owned, approved and reviewed at an interval no
/// longer than `max`.
fn document(c: &Claimants, max: Option<&Duration>) -> Vec<(Origin, Verdict)> {
    c.documents
        .iter()
        .map(|d| {
            let late = match (&d.review, max) {
                (Some(every), Some(m)) if !interval::within(every, m) => Some(format!(
                    "document `{}` is reviewed every {}, longer than at most {}",
                    d.name,
                    interval::describe(every),
                    interval::describe(m)
                )),
                _ => None,
            };
            let verdict = controlled(d)
                .map(|why| format!("document `{}` is not controlled ({why})", d.name))
                .or(late);
            (d.origin.clone(), verdict)
        })
        .collect()
}

/// A spawn of, or a `ref` field to, another process that implements
/// `clause`. A process never links to itself: a self-reference shows no
/// interaction between two processes.
fn link(c: &Claimants, clause: &str) -> Vec<(Origin, Verdict)> {
    // The claims that make the target a process implementing `clause`.
    let claims_of = |name: &str| -> Vec<Origin> {
        c.program
            .processes
            .iter()
            .filter(|p| p.name == name)
            .flat_map(|p| &p.implements)
            .filter(|cl| {
                cl.standard == c.standard
                    && cl.clauses.iter().any(|x| super::clause_matches(x, clause))
            })
            .map(|cl| cl.origin.clone())
            .collect()
    };
    let implements = |name: &str| !claims_of(name).is_empty();
    let selfref = |p: &Process| {
        Some(format!(
            "only a link from process `{0}` to itself; a link needs another process implementing {clause}",
            p.name
        ))
    };
    let mut out = Vec::new();
    for p in &c.processes {
        for s in p.spawns.iter().filter(|s| implements(&s.process)) {
            let verdict = if s.process == p.name {
                selfref(p)
            } else {
                dead_spawn(s).or_else(|| c.attached(p, &s.states))
            };
            if verdict.is_none() {
                out.extend(claims_of(&s.process).into_iter().map(|o| (o, None)));
            }
            out.push((s.origin.clone(), verdict));
        }
        for f in &p.record.fields {
            let target = match &f.ty {
                FieldType::Ref(t) => Some(t),
                FieldType::List(inner) => match inner.as_ref() {
                    FieldType::Ref(t) => Some(t),
                    _ => None,
                },
                _ => None,
            };
            if let Some(t) = target.filter(|t| implements(t)) {
                let verdict = (*t == p.name).then(|| selfref(p)).flatten();
                if verdict.is_none() {
                    out.extend(claims_of(t).into_iter().map(|o| (o, None)));
                }
                out.push((f.origin.clone(), verdict));
            }
        }
    }
    out
}

/// A spawn of, or a `ref` field to, a claiming process from ANOTHER process
/// that implements `clause` (configuration information used by incident
/// management: the incident record refers to the CI).
fn link_from(c: &Claimants, clause: &str) -> Vec<(Origin, Verdict)> {
    let mut out = Vec::new();
    let sources = c.program.processes.iter().filter(|q| {
        q.implements.iter().any(|cl| {
            cl.standard == c.standard && cl.clauses.iter().any(|x| super::clause_matches(x, clause))
        })
    });
    for q in sources {
        for p in &c.processes {
            if q.name == p.name {
                continue;
            }
            for s in q.spawns.iter().filter(|s| s.process == p.name) {
                let verdict = dead_spawn(s).or_else(|| c.attached(q, &s.states));
                if verdict.is_none() {
                    out.push((p.origin.clone(), None));
                }
                out.push((s.origin.clone(), verdict));
            }
            for f in &q.record.fields {
                let target = match &f.ty {
                    FieldType::Ref(t) => Some(t),
                    FieldType::List(inner) => match inner.as_ref() {
                        FieldType::Ref(t) => Some(t),
                        _ => None,
                    },
                    _ => None,
                };
                if target == Some(&p.name) {
                    // The process linked to is part of the evidence.
                    out.push((p.origin.clone(), None));
                    out.push((f.origin.clone(), None));
                }
            }
        }
    }
    out
}

/// `amount` months, or `max` when that is shorter.
fn suggested(amount: u64, max: Option<&Duration>) -> Duration {
    let d = Duration {
        amount,
        unit: crate::ir::DurationUnit::Months,
        business: false,
    };
    match max {
        Some(m) if !interval::within(&d, m) => *m,
        _ => d,
    }
}

/// A schedule hint that compiles when followed: a schedule starts instances
/// without an actor, so the process must need no field from the start
/// (E0402); the hint names the fields to relax when it does.
fn schedule_hint(c: &Claimants, max: Option<&Duration>) -> String {
    let every = format!("schedule every {}", interval::describe(&suggested(6, max)));
    let needs_actor = |p: &Process| -> Vec<String> {
        p.record
            .fields
            .iter()
            .filter(|f| f.required && f.default.is_none() && f.derived.is_none())
            .map(|f| format!("`{}`", f.name))
            .collect()
    };
    if let Some(p) = c.processes.iter().find(|p| needs_actor(p).is_empty()) {
        return format!("{every}   (in process `{}`)", p.name);
    }
    match c.processes.first() {
        Some(p) => {
            let later = p
                .states
                .iter()
                .find(|s| !s.initial)
                .map(|s| s.name.as_str())
                .unwrap_or("STATE");
            format!(
                "{every} in process `{}`, and make {} `required at {later}` instead of `required` (a schedule starts instances without an actor)",
                p.name,
                needs_actor(p).join(", ")
            )
        }
        None => format!("{every} in a process that claims the clause"),
    }
}

/// The construct that makes a record obligation met: an optional field
/// counts for nothing, so the hint always asks for `required` (or `required
/// at` a state, where a scheduled or spawned start would leave it unset).
fn field_hint(c: &Claimants, names: &[String], derived: bool) -> String {
    let name = names.first().map(String::as_str).unwrap_or("field");
    if derived {
        return format!("{name} priority = impact_urgency(impact, urgency)");
    }
    let declared = c.processes.iter().find_map(|p| {
        p.record
            .fields
            .iter()
            .find(|f| names.contains(&f.name) && f.derived.is_none())
            .map(|f| (p, f))
    });
    match declared {
        Some((p, f)) => format!(
            "`required` on field `{}` of process `{}` (or `required at` a state every instance reaches)",
            f.name, p.name
        ),
        None => format!("{name} text required"),
    }
}

/// Why a predicate is unmet and the construct that would meet it.
pub fn explain(p: &Predicate, c: &Claimants, clause: &str) -> (String, String) {
    let standard = c.standard;
    match p {
        Predicate::State { tag } => (
            format!("no claiming process has a state tagged `{tag}`"),
            format!("state NAME is {tag}"),
        ),
        Predicate::Transition { from_tag, to_tag } => (
            format!("no claiming process moves from a `{from_tag}` state to a `{to_tag}` state"),
            format!("transition NAME A -> B by ROLE   (A is {from_tag}, B is {to_tag})"),
        ),
        Predicate::Field { names, derived } => (
            format!(
                "no claiming process's record has a{} field {}",
                if *derived { " derived" } else { "" },
                names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" or ")
            ),
            field_hint(c, names, *derived),
        ),
        Predicate::FieldOfType { ty } => (
            format!("no claiming process's record has a `{ty}` field"),
            format!("NAME {ty}"),
        ),
        Predicate::Role { role } => (
            format!("no claiming definition involves the role `{role}`"),
            format!("owner {role}   (or by / approvers / notify {role})"),
        ),
        Predicate::Owner => (
            "no claiming definition names an owner".into(),
            "owner ROLE".into(),
        ),
        Predicate::Approval { before_tag: None } => (
            "no claiming process has an approval".into(),
            "approval NAME on STATE { approvers ROLE  distinct from requester  approved -> S  rejected -> S }".into(),
        ),
        Predicate::Approval { before_tag: Some(tag) } => (
            format!("no claiming process passes an approval on every path to a `{tag}` state"),
            format!("approval NAME on STATE {{ … approved -> S }}, with every path to the `{tag}` state through STATE"),
        ),
        Predicate::Sla { until_tag: None } => (
            "no claiming process has an SLA".into(),
            "sla NAME { from S until S  target 8h }".into(),
        ),
        Predicate::Sla { until_tag: Some(tag) } => (
            format!("no claiming process has an SLA clock that stops in a state tagged `{tag}`"),
            format!("sla NAME {{ from START until STOP  target … }}   (STOP is {tag})"),
        ),
        Predicate::Escalation { to: None } => (
            "no claiming process escalates".into(),
            "escalation NAME when EXPR { notify ROLE }   (or an SLA `breach escalate to ROLE`)".into(),
        ),
        Predicate::Escalation { to: Some(role) } => (
            format!("no claiming process escalates to `{role}`"),
            format!("escalation NAME when EXPR {{ notify {role} }}   (or `breach escalate to {role}`)"),
        ),
        Predicate::Notification { to: None } => (
            "no claiming process notifies anyone".into(),
            "on enter STATE notify ROLE".into(),
        ),
        Predicate::Notification { to: Some(role) } => (
            format!("no claiming process notifies `{role}`"),
            format!("on enter STATE notify {role}"),
        ),
        Predicate::Schedule { max } => (
            "no claiming process runs at planned intervals".into(),
            schedule_hint(c, max.as_ref()),
        ),
        Predicate::Document { max_review } => (
            "no claiming document with an owner, an approver and a review interval".into(),
            format!(
                "document NAME \"Title\" {{ satisfies {standard} {{ {clause} }}  owner ROLE  approved by ROLE  review every {} }}",
                interval::describe(&suggested(12, max_review.as_ref()))
            ),
        ),
        Predicate::LinkFrom { clause } => (
            format!("no process implementing {clause} links to a claiming process"),
            format!("a `ref PROCESS` field (PROCESS is the claiming process) in the record of a process implementing {clause}"),
        ),
        Predicate::Link { clause } => (
            format!("no claiming process links to a process implementing {clause}"),
            format!("spawn PROCESS on enter STATE link FIELD   (PROCESS implements {clause}), or a ref PROCESS field"),
        ),
    }
}
