//! The response bodies, typed so that the OpenAPI document describes what
//! is sent: each runtime view is converted into a type here that derives
//! both `Serialize` and `ToSchema`.
//!
//! The conversions destructure the runtime views without `..`: a field
//! added to a view does not compile until it is added here too, so the
//! document cannot silently fall behind the responses.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::runtime::approval::{DecisionView, OpenApproval};
use crate::runtime::clock::ClockView;
use crate::runtime::engine::{EventView, InstanceSummary, InstanceView};
use crate::runtime::escalation::EscalationView;
use crate::runtime::spawn::LinkView;

/// An instance: where it is, its record, what can happen next.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Instance {
    pub id: i64,
    pub process: String,
    /// The definition version the instance is pinned to.
    pub version: i64,
    pub definition_id: i64,
    pub state: String,
    /// Increases by one with every event; pass it as `revision` to refuse
    /// a change when someone else changed the instance first.
    pub revision: i64,
    /// The record: field name to value.
    #[schema(value_type = Object)]
    pub record: Value,
    pub created_at: String,
    pub updated_at: String,
    /// Transitions a person can fire from the current state.
    pub next: Vec<String>,
    /// Approvals open in the current state (omitted when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
    /// SLA clocks as of now (omitted when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<Clock>,
    /// The instance whose step spawned this one (omitted when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spawned_by: Option<Link>,
    /// The instances this one spawned (omitted when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spawned: Vec<Link>,
    /// The escalation rules raised on this instance (omitted when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub escalations: Vec<Escalation>,
}

impl From<InstanceView> for Instance {
    fn from(v: InstanceView) -> Instance {
        let InstanceView {
            id,
            process,
            version,
            definition_id,
            state,
            revision,
            record,
            created_at,
            updated_at,
            next,
            approvals,
            clocks,
            spawned_by,
            spawned,
            escalations,
        } = v;
        Instance {
            id,
            process,
            version,
            definition_id,
            state,
            revision,
            record,
            created_at,
            updated_at,
            next,
            approvals: approvals.into_iter().map(Approval::from).collect(),
            clocks: clocks.into_iter().map(Clock::from).collect(),
            spawned_by: spawned_by.map(Link::from),
            spawned: spawned.into_iter().map(Link::from).collect(),
            escalations: escalations.into_iter().map(Escalation::from).collect(),
        }
    }
}

/// One end of a spawn link.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Link {
    pub process: String,
    pub instance: i64,
    /// The event of the shown instance that records the link.
    pub seq: i64,
    pub at: String,
    /// The `link` field that holds the spawned instance's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl From<LinkView> for Link {
    fn from(l: LinkView) -> Link {
        let LinkView {
            process,
            instance,
            seq,
            at,
            field,
        } = l;
        Link {
            process,
            instance,
            seq,
            at,
            field,
        }
    }
}

/// An escalation rule raised on the instance (its condition became true).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Escalation {
    pub name: String,
    pub title: Option<String>,
    /// The role the rule assigns the instance to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assign: Option<String>,
    pub seq: i64,
    pub at: String,
    /// The state the instance was in.
    pub state: String,
}

impl From<EscalationView> for Escalation {
    fn from(e: EscalationView) -> Escalation {
        let EscalationView {
            name,
            title,
            assign,
            seq,
            at,
            state,
        } = e;
        Escalation {
            name,
            title,
            assign,
            seq,
            at,
            state,
        }
    }
}

/// An approval open in the instance's state, with this round's decisions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Approval {
    pub name: String,
    pub title: Option<String>,
    pub approvers: Vec<String>,
    /// As written: `any`, `all`, `2`, `60%`.
    pub quorum: String,
    /// Who entered the state (and so requested the approval).
    pub requester: String,
    /// The seq of the event that opened this round.
    pub opened_at: i64,
    pub decisions: Vec<ApprovalDecision>,
    /// When this round times out without an outcome (`timeout D`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_due_at: Option<String>,
    /// The seq of the `approval_timeout` event, once this round timed out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timed_out_seq: Option<i64>,
}

impl From<OpenApproval> for Approval {
    fn from(a: OpenApproval) -> Approval {
        let OpenApproval {
            name,
            title,
            approvers,
            quorum,
            requester,
            opened_at,
            decisions,
            timeout_due_at,
            timed_out_seq,
        } = a;
        Approval {
            name,
            title,
            approvers,
            quorum,
            requester,
            opened_at,
            decisions: decisions.into_iter().map(ApprovalDecision::from).collect(),
            timeout_due_at,
            timed_out_seq,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApprovalDecision {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub roles: Vec<String>,
    /// `approve` or `reject`.
    pub decision: String,
    pub comment: Option<String>,
}

impl From<DecisionView> for ApprovalDecision {
    fn from(d: DecisionView) -> ApprovalDecision {
        let DecisionView {
            seq,
            at,
            actor,
            roles,
            decision,
            comment,
        } = d;
        ApprovalDecision {
            seq,
            at,
            actor,
            roles,
            decision: decision.as_str().to_string(),
            comment,
        }
    }
}

/// One SLA clock of an instance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Clock {
    pub sla: String,
    /// `running`, `paused`, `met` or `breached`.
    pub status: String,
    /// Whether it passed its target (also while still running).
    pub breached: bool,
    /// Target, in business minutes.
    pub target_minutes: i64,
    pub elapsed_minutes: i64,
    /// Zero once the target is passed.
    pub remaining_minutes: i64,
    pub started_at: String,
    pub due_at: Option<String>,
    /// Warn thresholds reached in this run, as written (`75%`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// When the next warn threshold is reached if the clock keeps running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_warning_at: Option<String>,
}

impl From<ClockView> for Clock {
    fn from(c: ClockView) -> Clock {
        let ClockView {
            sla,
            status,
            breached,
            target_minutes,
            elapsed_minutes,
            remaining_minutes,
            started_at,
            due_at,
            warnings,
            next_warning_at,
        } = c;
        Clock {
            sla,
            status,
            breached,
            target_minutes,
            elapsed_minutes,
            remaining_minutes,
            started_at,
            due_at,
            warnings,
            next_warning_at,
        }
    }
}

/// An instance in a listing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstanceItem {
    pub id: i64,
    pub process: String,
    pub version: i64,
    pub state: String,
    pub revision: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<InstanceSummary> for InstanceItem {
    fn from(s: InstanceSummary) -> InstanceItem {
        let InstanceSummary {
            id,
            process,
            version,
            state,
            revision,
            created_at,
            updated_at,
        } = s;
        InstanceItem {
            id,
            process,
            version,
            state,
            revision,
            created_at,
            updated_at,
        }
    }
}

/// A page of instances.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstancePage {
    pub items: Vec<InstanceItem>,
    /// The `after` of the next page; `null` on the last one.
    pub next: Option<i64>,
}

/// One event of an instance's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Event {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    /// The actor's roles (a JSON array of names).
    #[schema(value_type = Vec<String>)]
    pub roles: Value,
    /// `start`, `fire`, `decision`, `approved`, `rejected`, `breach`, ...
    pub kind: String,
    pub transition: Option<String>,
    pub from: Option<String>,
    pub to: String,
    /// The fields the event changed.
    #[schema(value_type = Object)]
    pub patch: Value,
    pub prev_hash: String,
    pub hash: String,
}

impl From<EventView> for Event {
    fn from(e: EventView) -> Event {
        let EventView {
            seq,
            at,
            actor,
            roles,
            kind,
            transition,
            from,
            to,
            patch,
            prev_hash,
            hash,
        } = e;
        Event {
            seq,
            at,
            actor,
            roles,
            kind,
            transition,
            from,
            to,
            patch,
            prev_hash,
            hash,
        }
    }
}

/// An instance's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct History {
    pub instance: i64,
    pub events: Vec<Event>,
}

/// An instance's SLA clocks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Clocks {
    pub instance: i64,
    pub clocks: Vec<Clock>,
}

/// A breached SLA clock.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Breach {
    pub instance: i64,
    pub process: String,
    #[serde(flatten)]
    pub clock: Clock,
}

/// A page of breached clocks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BreachPage {
    pub items: Vec<Breach>,
    /// The `after` of the next page (`INSTANCE:SLA`); `null` on the last one.
    pub next: Option<String>,
}

/// A deployed process, as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProcessItem {
    pub name: String,
    pub title: Option<String>,
    pub owner: Option<String>,
    pub started_by: Vec<String>,
    /// SHA-256 of the definition's content.
    pub hash: String,
    pub states: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProcessList {
    pub processes: Vec<ProcessItem>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ready {
    /// `ready`.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
}
