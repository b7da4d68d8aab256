//! One small function per obligation predicate. Each looks at the
//! definitions that claim the clause and returns the constructs that meet it
//! (their locations are the evidence), or nothing.

use std::collections::{HashSet, VecDeque};

use crate::ir::{Document, FieldType, Origin, Predicate, Process, Program};

/// The definitions that claim one clause.
pub struct Claimants<'a> {
    pub program: &'a Program,
    pub standard: &'a str,
    pub processes: Vec<&'a Process>,
    pub documents: Vec<&'a Document>,
}

/// Evidence for a predicate, or `None` when no claimant meets it.
pub fn evaluate(p: &Predicate, c: &Claimants) -> Option<Vec<Origin>> {
    let found = match p {
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
        Predicate::Schedule => schedule(c),
        Predicate::Document => document(c),
        Predicate::Link { clause } => link(c, clause),
    };
    (!found.is_empty()).then_some(found)
}

fn has_tag(p: &Process, state: &str, tag: &str) -> bool {
    p.state(state)
        .is_some_and(|s| s.tags.iter().any(|t| t == tag))
}

fn state(c: &Claimants, tag: &str) -> Vec<Origin> {
    c.processes
        .iter()
        .flat_map(|p| p.states.iter())
        .filter(|s| s.tags.iter().any(|t| t == tag))
        .map(|s| s.origin.clone())
        .collect()
}

fn transition(c: &Claimants, from: &str, to: &str) -> Vec<Origin> {
    let mut out = Vec::new();
    for p in &c.processes {
        for t in &p.transitions {
            if has_tag(p, &t.to, to) && t.from.iter().any(|f| has_tag(p, f, from)) {
                out.push(t.origin.clone());
            }
        }
        for a in &p.approvals {
            if has_tag(p, &a.state, from)
                && (has_tag(p, &a.approved, to) || has_tag(p, &a.rejected, to))
            {
                out.push(a.origin.clone());
            }
        }
    }
    out
}

fn field(c: &Claimants, names: &[String], derived: bool) -> Vec<Origin> {
    c.processes
        .iter()
        .flat_map(|p| p.record.fields.iter())
        .filter(|f| names.contains(&f.name) && (!derived || f.derived.is_some()))
        .map(|f| f.origin.clone())
        .collect()
}

fn field_of_type(c: &Claimants, ty: &str) -> Vec<Origin> {
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
        .map(|f| f.origin.clone())
        .collect()
}

fn role(c: &Claimants, role: &str) -> Vec<Origin> {
    let mut out: Vec<Origin> = c
        .processes
        .iter()
        .filter(|p| p.roles.iter().any(|r| r.name == role))
        .map(|p| p.origin.clone())
        .collect();
    out.extend(
        c.documents
            .iter()
            .filter(|d| d.owner.as_deref() == Some(role) || d.approved_by.iter().any(|r| r == role))
            .map(|d| d.origin.clone()),
    );
    out
}

fn owner(c: &Claimants) -> Vec<Origin> {
    c.processes
        .iter()
        .filter(|p| p.owner.is_some())
        .map(|p| p.origin.clone())
        .chain(
            c.documents
                .iter()
                .filter(|d| d.owner.is_some())
                .map(|d| d.origin.clone()),
        )
        .collect()
}

/// With a tag: every path from the initial state to a state with the tag
/// passes through an approval state (so removing the approval states makes
/// the tag unreachable), and such a state exists.
fn approval(c: &Claimants, before: Option<&str>) -> Vec<Origin> {
    let mut out = Vec::new();
    for p in &c.processes {
        if p.approvals.is_empty() {
            continue;
        }
        let Some(tag) = before else {
            out.extend(p.approvals.iter().map(|a| a.origin.clone()));
            continue;
        };
        let tagged: Vec<&str> = p
            .states
            .iter()
            .filter(|s| s.tags.iter().any(|t| t == tag))
            .map(|s| s.name.as_str())
            .collect();
        if tagged.is_empty() {
            continue;
        }
        let gates: HashSet<&str> = p.approvals.iter().map(|a| a.state.as_str()).collect();
        let Some(initial) = p.states.iter().find(|s| s.initial) else {
            continue;
        };
        if gates.contains(initial.name.as_str()) {
            out.extend(p.approvals.iter().map(|a| a.origin.clone()));
            continue;
        }
        let mut seen: HashSet<&str> = HashSet::from([initial.name.as_str()]);
        let mut queue = VecDeque::from([initial.name.as_str()]);
        let mut bypassed = false;
        while let Some(s) = queue.pop_front() {
            if tagged.contains(&s) {
                bypassed = true;
                break;
            }
            for t in p
                .transitions
                .iter()
                .filter(|t| t.from.iter().any(|f| f == s))
            {
                let to = t.to.as_str();
                if !gates.contains(to) && seen.insert(to) {
                    queue.push_back(to);
                }
            }
        }
        if !bypassed {
            out.extend(p.approvals.iter().map(|a| a.origin.clone()));
        }
    }
    out
}

fn sla(c: &Claimants, until: Option<&str>) -> Vec<Origin> {
    c.processes
        .iter()
        .flat_map(|p| p.slas.iter().map(move |s| (p, s)))
        .filter(|(p, s)| until.is_none_or(|tag| s.until.iter().any(|u| has_tag(p, u, tag))))
        .map(|(_, s)| s.origin.clone())
        .collect()
}

fn escalation(c: &Claimants, to: Option<&str>) -> Vec<Origin> {
    let wanted =
        |roles: &[String]| !roles.is_empty() && to.is_none_or(|r| roles.iter().any(|x| x == r));
    let mut out = Vec::new();
    for p in &c.processes {
        for e in &p.escalations {
            let mut roles: Vec<String> = e.notify.iter().flat_map(|n| n.roles.clone()).collect();
            roles.extend(e.assign.clone());
            if wanted(&roles) {
                out.push(e.origin.clone());
            }
        }
        for s in &p.slas {
            if wanted(&s.breach_escalate_to) {
                out.push(s.origin.clone());
            }
        }
        for a in &p.approvals {
            if wanted(&a.timeout_escalate_to) {
                out.push(a.origin.clone());
            }
        }
    }
    out
}

fn notification(c: &Claimants, to: Option<&str>) -> Vec<Origin> {
    let wanted =
        |roles: &[String]| !roles.is_empty() && to.is_none_or(|r| roles.iter().any(|x| x == r));
    let mut out = Vec::new();
    for p in &c.processes {
        out.extend(
            p.on_enter
                .iter()
                .filter(|o| wanted(&o.notify))
                .map(|o| o.origin.clone()),
        );
        for s in &p.slas {
            if s.warns.iter().any(|w| wanted(&w.notify)) {
                out.push(s.origin.clone());
            }
        }
        for e in &p.escalations {
            if e.notify.iter().any(|n| wanted(&n.roles)) {
                out.push(e.origin.clone());
            }
        }
    }
    out
}

fn schedule(c: &Claimants) -> Vec<Origin> {
    c.processes
        .iter()
        .filter(|p| p.schedule.is_some())
        .map(|p| p.origin.clone())
        .collect()
}

/// A controlled document: owned, approved and reviewed at an interval.
fn document(c: &Claimants) -> Vec<Origin> {
    c.documents
        .iter()
        .filter(|d| d.owner.is_some() && !d.approved_by.is_empty() && d.review.is_some())
        .map(|d| d.origin.clone())
        .collect()
}

/// A spawn of, or a `ref` field to, a process that implements `clause`.
fn link(c: &Claimants, clause: &str) -> Vec<Origin> {
    let implements = |name: &str| {
        c.program.processes.iter().any(|p| {
            p.name == name
                && p.implements.iter().any(|cl| {
                    cl.standard == c.standard
                        && cl.clauses.iter().any(|x| super::clause_matches(x, clause))
                })
        })
    };
    let mut out = Vec::new();
    for p in &c.processes {
        out.extend(
            p.spawns
                .iter()
                .filter(|s| implements(&s.process))
                .map(|s| s.origin.clone()),
        );
        for f in &p.record.fields {
            let target = match &f.ty {
                FieldType::Ref(t) => Some(t),
                FieldType::List(inner) => match inner.as_ref() {
                    FieldType::Ref(t) => Some(t),
                    _ => None,
                },
                _ => None,
            };
            if target.is_some_and(|t| implements(t)) {
                out.push(f.origin.clone());
            }
        }
    }
    out
}

/// Why a predicate is unmet and the construct that would meet it.
pub fn explain(p: &Predicate, standard: &str, clause: &str) -> (String, String) {
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
            if *derived {
                format!("{} priority = impact_urgency(impact, urgency)", names.first().map(String::as_str).unwrap_or("field"))
            } else {
                format!("{} text", names.first().map(String::as_str).unwrap_or("field"))
            },
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
        Predicate::Schedule => (
            "no claiming process runs at planned intervals".into(),
            "schedule every 6 months".into(),
        ),
        Predicate::Document => (
            "no claiming document with an owner, an approver and a review interval".into(),
            format!("document NAME \"Title\" {{ satisfies {standard} {{ {clause} }}  owner ROLE  approved by ROLE  review every 12 months }}"),
        ),
        Predicate::Link { clause } => (
            format!("no claiming process links to a process implementing {clause}"),
            format!("spawn PROCESS on enter STATE link FIELD   (PROCESS implements {clause}), or a ref PROCESS field"),
        ),
    }
}
