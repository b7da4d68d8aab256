//! Approvals at run time, derived from the event log alone (no table),
//! except for their timeouts (see the end of this module).
//!
//! Entering a state that has an `approval` (by `start`, by `fire`, or by
//! the outcome of another approval) opens it; the *requester* is the actor
//! of the event that entered the state. The current *round* is the events
//! after that one: decisions count only for the round they were made in,
//! so re-entering the state later opens a fresh round.
//!
//! Each decision is an event of kind `decision` (state unchanged, patch
//! `{approval, decision, comment}`, never applied to the record). A
//! rejection moves the instance at once to the `rejected ->` state; a
//! reached quorum moves it to the `approved ->` state. That move is a
//! second event of kind `rejected` or `approved`, by `system:approval`,
//! with patch `{approval}`.
//!
//! Quorum: `any` is one approval; `N` is N distinct approvers; `all` is at
//! least one approval from each approver role (by the roles the deciding
//! actors held); `P%` is ceil(P% × the summed `members` of the approver
//! roles when all of them declare members, otherwise of the number of
//! approver roles).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::RuntimeError;
use super::store::{ApprovalTimeoutRow, EventRow, Tx};
use crate::ir::{Approval, Process, Quorum};

/// The actor of the automatic move an approval's outcome makes.
pub const SYSTEM_ACTOR: &str = "system:approval";

/// Event kinds written by approvals.
pub const KIND_DECISION: &str = "decision";
pub const KIND_APPROVED: &str = "approved";
pub const KIND_REJECTED: &str = "rejected";
/// The event `tick` appends when an approval's round times out.
pub const KIND_APPROVAL_TIMEOUT: &str = "approval_timeout";

/// An approver's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }

    fn parse(text: &str) -> Option<Decision> {
        match text {
            "approve" => Some(Decision::Approve),
            "reject" => Some(Decision::Reject),
            _ => None,
        }
    }
}

/// One decision of the current round.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = ApprovalDecision)]
pub struct DecisionView {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub roles: Vec<String>,
    pub decision: Decision,
    pub comment: Option<String>,
}

/// An approval open in the instance's current state, with this round's
/// decisions.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Approval)]
pub struct OpenApproval {
    pub name: String,
    pub title: Option<String>,
    pub approvers: Vec<String>,
    /// The quorum as written: `any`, `all`, `2`, `60%`.
    pub quorum: String,
    /// Who entered the state (and so requested the approval).
    pub requester: String,
    /// The seq of the event that opened this round.
    pub opened_at: i64,
    pub decisions: Vec<DecisionView>,
    /// When this round times out without an outcome (`timeout D`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_due_at: Option<String>,
    /// The seq of the `approval_timeout` event, once this round timed out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timed_out_seq: Option<i64>,
}

/// The quorum as written in the language.
pub fn describe_quorum(q: &Quorum) -> String {
    match q {
        Quorum::Any => "any".into(),
        Quorum::All => "all".into(),
        Quorum::Count(n) => n.to_string(),
        Quorum::Percent(p) => format!("{p}%"),
    }
}

/// How many approvals a `P%` quorum needs: ceil(P% × the summed `members`
/// of the approver roles when every one declares members, otherwise of the
/// number of approver roles); at least one.
pub fn percent_needed(process: &Process, approval: &Approval, percent: f64) -> u64 {
    let members: Option<u64> = approval
        .approvers
        .iter()
        .map(|name| {
            process
                .roles
                .iter()
                .find(|r| &r.name == name)
                .and_then(|r| r.members)
                .map(u64::from)
        })
        .sum();
    let base = members.unwrap_or(approval.approvers.len() as u64) as f64;
    // Round away float noise first: 60% of 5 is 3, not 3.0000000000000004.
    let exact = (percent / 100.0 * base * 1e9).round() / 1e9;
    (exact.ceil() as u64).max(1)
}

/// Whether the approvals in `decisions` reach the quorum.
pub fn quorum_reached(process: &Process, approval: &Approval, decisions: &[DecisionView]) -> bool {
    let approvals: Vec<&DecisionView> = decisions
        .iter()
        .filter(|d| d.decision == Decision::Approve)
        .collect();
    let mut distinct: Vec<&str> = approvals.iter().map(|d| d.actor.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let n = distinct.len() as u64;
    match &approval.quorum {
        Quorum::Any => n >= 1,
        Quorum::Count(k) => n >= u64::from(*k).max(1),
        Quorum::Percent(p) => n >= percent_needed(process, approval, *p),
        Quorum::All => approval
            .approvers
            .iter()
            .all(|role| approvals.iter().any(|d| d.roles.contains(role))),
    }
}

/// Whether `e` moved the instance into `state` (as opposed to staying in
/// it: decisions and self-loops do not open a new round).
fn enters(e: &EventRow, state: &str) -> bool {
    e.to_state == state && (e.kind == "start" || e.from_state.as_deref() != Some(state))
}

fn parse_roles(text: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(text).unwrap_or_default()
}

/// The decisions on `approval` in the current round of `state`, with the
/// requester and the seq that opened the round; `None` when the history
/// never entered `state`.
pub fn round(
    approval: &str,
    state: &str,
    events: &[EventRow],
) -> Option<(String, i64, Vec<DecisionView>)> {
    let start = events.iter().rposition(|e| enters(e, state))?;
    let opener = &events[start];
    let decisions = events[start + 1..]
        .iter()
        .filter(|e| e.kind == KIND_DECISION)
        .filter_map(|e| {
            let patch: Value = serde_json::from_str(&e.patch).ok()?;
            if patch.get("approval").and_then(Value::as_str) != Some(approval) {
                return None;
            }
            let decision = Decision::parse(patch.get("decision")?.as_str()?)?;
            Some(DecisionView {
                seq: e.seq,
                at: e.at.clone(),
                actor: e.actor.clone(),
                roles: parse_roles(&e.actor_roles),
                decision,
                comment: patch
                    .get("comment")
                    .and_then(Value::as_str)
                    .map(String::from),
            })
        })
        .collect();
    Some((opener.actor.clone(), opener.seq, decisions))
}

/// The approvals open in `state`, with the decisions of the current round.
pub fn open_approvals(process: &Process, state: &str, events: &[EventRow]) -> Vec<OpenApproval> {
    process
        .approvals
        .iter()
        .filter(|a| a.state == state)
        .filter_map(|a| {
            let (requester, opened_at, decisions) = round(&a.name, state, events)?;
            Some(OpenApproval {
                name: a.name.clone(),
                title: a.title.clone(),
                approvers: a.approvers.clone(),
                quorum: describe_quorum(&a.quorum),
                requester,
                opened_at,
                decisions,
                timeout_due_at: None,
                timed_out_seq: None,
            })
        })
        .collect()
}

// ------------------------------------------------------------- timeouts
//
// An approval with `timeout D [escalate to R…]` gets a row in
// `approval_timeouts` when its state is entered (`due_at` = entry + D,
// business durations on the process calendar, like timers). Leaving the
// state deletes it, so an outcome (which always leaves, or re-enters a
// state without opening a round) or any other move cancels it; staying in
// the state (a self-loop) keeps the round and its timeout. When due, `tick`
// appends an `approval_timeout` event (patch `{approval}`, by
// `system:timer`), notifies the `escalate to` roles, and keeps the row with
// no due time: a round times out once.

/// Sets or cancels the approval timeouts of instance `id`, which just
/// entered `state` by event `seq` at `at`.
pub(crate) async fn timeouts_on_entry<T: Tx>(
    tx: &mut T,
    process: &Process,
    id: i64,
    state: &str,
    seq: i64,
    at: &str,
) -> Result<(), RuntimeError> {
    if !process.approvals.iter().any(|a| a.timeout.is_some()) {
        return Ok(());
    }
    let existing = tx.approval_timeouts(id).await?;
    for row in &existing {
        let stays = process
            .approvals
            .iter()
            .any(|a| a.name == row.approval && a.state == state && a.timeout.is_some());
        if !stays {
            tx.delete_approval_timeout(id, &row.approval).await?;
        }
    }
    for a in process.approvals.iter().filter(|a| a.state == state) {
        let Some(d) = &a.timeout else { continue };
        if existing.iter().any(|r| r.approval == a.name) {
            continue;
        }
        tx.put_approval_timeout(&ApprovalTimeoutRow {
            instance_id: id,
            approval: a.name.clone(),
            due_at: Some(super::effects::due_after(process, at, d)?),
            entered_seq: seq,
            timed_out_seq: None,
        })
        .await?;
    }
    Ok(())
}

/// Adds the timeouts of the instance's rows to the open approvals shown.
pub fn attach_timeouts(open: &mut [OpenApproval], rows: &[ApprovalTimeoutRow]) {
    for a in open {
        if let Some(r) = rows.iter().find(|r| r.approval == a.name) {
            a.timeout_due_at = r.due_at.clone();
            a.timed_out_seq = r.timed_out_seq;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Role;

    fn setup(quorum: Quorum, members: &[Option<u32>]) -> (Process, Approval) {
        let mut process: Process = serde_json::from_value(serde_json::json!({
            "name": "p", "title": null, "implements": [], "owner": null, "started_by": [],
            "record": {"name": "R", "title": null, "fields": []},
            "states": [], "transitions": [], "approvals": [], "slas": [], "escalations": [],
            "on_enter": [], "spawns": [], "schedule": null, "calendar": null, "roles": [],
            "calendars": [], "templates": [], "origin": {"file": "", "line": 0}, "hash": ""
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let mut approvers = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let name = format!("r{i}");
            process.roles.push(Role {
                name: name.clone(),
                title: None,
                members: *m,
            });
            approvers.push(name);
        }
        let approval = Approval {
            name: "a".into(),
            title: None,
            state: "s".into(),
            approvers,
            quorum,
            distinct_from_requester: false,
            distinct_from_roles: vec![],
            approved: "ok".into(),
            rejected: "no".into(),
            timeout: None,
            timeout_escalate_to: vec![],
            timeout_template: None,
            origin: Default::default(),
        };
        (process, approval)
    }

    #[test]
    fn percent_of_members_or_of_roles() {
        let (p, a) = setup(Quorum::Percent(60.0), &[Some(5), Some(2)]);
        assert_eq!(percent_needed(&p, &a, 60.0), 5); // ceil(4.2)
        let (p, a) = setup(Quorum::Percent(60.0), &[Some(5)]);
        assert_eq!(percent_needed(&p, &a, 60.0), 3);
        let (p, a) = setup(Quorum::Percent(50.0), &[Some(5), None]);
        assert_eq!(percent_needed(&p, &a, 50.0), 1); // of 2 roles
        assert_eq!(percent_needed(&p, &a, 1.0), 1);
    }

    #[test]
    fn all_needs_one_approval_per_role() {
        let (p, a) = setup(Quorum::All, &[None, None]);
        let d = |actor: &str, roles: &[&str]| DecisionView {
            seq: 1,
            at: String::new(),
            actor: actor.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            decision: Decision::Approve,
            comment: None,
        };
        assert!(!quorum_reached(&p, &a, &[d("x", &["r0"])]));
        assert!(quorum_reached(&p, &a, &[d("x", &["r0"]), d("y", &["r1"])]));
        assert!(quorum_reached(&p, &a, &[d("x", &["r0", "r1"])]));
    }
}
