//! The response bodies of the HTTP API that are not runtime views. The
//! runtime views themselves (instance, approval, clock, event, link,
//! escalation, listing item) derive `ToSchema` where they are defined,
//! under their API names, so the OpenAPI document describes exactly what
//! is serialized.

use serde::Serialize;
use utoipa::ToSchema;

pub use crate::runtime::approval::{DecisionView as ApprovalDecision, OpenApproval as Approval};
pub use crate::runtime::clock::ClockView as Clock;
pub use crate::runtime::engine::{
    EventView as Event, InstanceSummary as InstanceItem, InstanceView as Instance,
};
pub use crate::runtime::escalation::EscalationView as Escalation;
pub use crate::runtime::spawn::LinkView as Link;

/// A page of instances.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstancePage {
    pub items: Vec<InstanceItem>,
    /// The `after` of the next page; `null` on the last one.
    pub next: Option<i64>,
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
