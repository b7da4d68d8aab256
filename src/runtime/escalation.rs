//! Escalation rules: `escalation NAME when COND { notify R [template T] …
//! assign ROLE }`.
//!
//! After every step that changes an instance's record or state (start,
//! fire, an approval's outcome, a timer, and the `spawn` events that step
//! sets off), each rule's condition is evaluated in the guard sandbox on the
//! record before and after the step. On a rising edge (false, or no record
//! yet at start, before; true after) the engine appends an `escalation`
//! event by [`ESCALATION_ACTOR`] (patch `{escalation: NAME, assign: ROLE}`)
//! and writes one outbox row per notified role for that event, so a rule
//! notifies once per rising edge: it must become false and true again to
//! notify again.
//!
//! A condition that fails to evaluate (a runtime type error, a sandbox
//! limit) counts as false: the step goes on, and the engine counts the
//! failure ([`Engine::escalation_errors`]), as it counts templates that fail
//! to render. A broken rule must not stop the work it watches.

use std::sync::atomic::Ordering;

use serde::Serialize;
use serde_json::Value;

use super::effects::{Entered, Settled};
use super::engine::{append_step, chain_head, record_text, Actor, Engine, Step};
use super::error::RuntimeError;
use super::outbox::{self, Subject};
use super::store::{EventRow, InstanceRow, Tx};
use super::values::Record;
use crate::ir::{Escalation, Process};

/// Kind of the event that records a raised escalation.
pub const KIND_ESCALATION: &str = "escalation";
/// The actor escalation events are recorded by (and conditions see).
pub const ESCALATION_ACTOR: &str = "system:escalation";

/// An escalation raised on an instance, as `instance show` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Escalation)]
pub struct EscalationView {
    pub name: String,
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assign: Option<String>,
    pub seq: i64,
    pub at: String,
    /// The state the instance was in.
    pub state: String,
}

impl Engine {
    /// Raises the escalations whose condition rose with the step `e`.
    pub(super) async fn escalate<T: Tx>(
        &self,
        tx: &mut T,
        process: &Process,
        e: &Entered<'_>,
        settled: &mut Settled,
    ) -> Result<(), RuntimeError> {
        if process.escalations.is_empty() {
            return Ok(());
        }
        let actor = Actor::new(ESCALATION_ACTOR, &[]);
        let after = row(process, e, e.state, settled.revision);
        let rising: Vec<&Escalation> = process
            .escalations
            .iter()
            .filter(|rule| {
                self.holds(process, rule, settled.record(e), &actor, &after)
                    && !e.before.as_ref().is_some_and(|b| {
                        let before = row(process, e, b.state, e.seq - 1);
                        self.holds(process, rule, b.record, &actor, &before)
                    })
            })
            .collect();
        if rising.is_empty() {
            return Ok(());
        }
        let record: Record = settled.record(e).clone();
        let text = record_text(&record);
        let requester = Self::requester(tx, e.id).await?;
        let mut prev_hash = chain_head(tx, e.id).await?;
        for rule in rising {
            let mut patch = Record::new();
            patch.insert("escalation".into(), Value::from(rule.name.clone()));
            if let Some(role) = &rule.assign {
                patch.insert("assign".into(), Value::from(role.clone()));
            }
            let step = Step {
                actor: &actor,
                kind: KIND_ESCALATION,
                transition: None,
                from: e.state,
                to: e.state,
                patch: &patch,
            };
            let event =
                append_step(tx, e.id, settled.revision, &text, e.at, step, &prev_hash).await?;
            prev_hash = event.hash;
            settled.revision = event.seq;
            let subject = Subject {
                id: e.id,
                seq: event.seq,
                state: e.state,
                record: &record,
                requester: &requester,
                created_at: e.created_at,
                at: e.at,
            };
            let errors = outbox::on_escalation(tx, process, rule, &subject).await?;
            self.render_errors
                .fetch_add(errors as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Whether the rule's condition holds; an evaluation error counts as
    /// false and is counted.
    fn holds(
        &self,
        process: &Process,
        rule: &Escalation,
        record: &Record,
        actor: &Actor,
        inst: &InstanceRow,
    ) -> bool {
        match self.guard(process, &rule.condition, record, actor, inst) {
            Ok(b) => b,
            Err(_) => {
                self.escalation_errors.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

/// The instance as a condition sees it (`instance.…`) in `state` at
/// `revision`.
fn row(process: &Process, e: &Entered<'_>, state: &str, revision: i64) -> InstanceRow {
    InstanceRow {
        id: e.id,
        process: process.name.clone(),
        definition_id: 0,
        state: state.to_string(),
        record: String::new(),
        revision,
        created_at: e.created_at.to_string(),
        updated_at: e.at.to_string(),
    }
}

/// The escalations raised on the instance whose `events` these are.
pub fn raised(process: &Process, events: &[EventRow]) -> Vec<EscalationView> {
    events
        .iter()
        .filter(|e| e.kind == KIND_ESCALATION)
        .filter_map(|e| {
            let patch: Value = serde_json::from_str(&e.patch).ok()?;
            let name = patch.get("escalation")?.as_str()?.to_string();
            let title = process
                .escalations
                .iter()
                .find(|r| r.name == name)
                .and_then(|r| r.title.clone());
            Some(EscalationView {
                title,
                assign: patch
                    .get("assign")
                    .and_then(Value::as_str)
                    .map(String::from),
                name,
                seq: e.seq,
                at: e.at.clone(),
                state: e.to_state.clone(),
            })
        })
        .collect()
}

/// Checks an `escalation` event against the definition, for replay.
pub fn check_event(process: &Process, e: &EventRow) -> Result<(), String> {
    let patch: Value = serde_json::from_str(&e.patch).unwrap_or(Value::Null);
    let name = patch
        .get("escalation")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if process.escalations.iter().any(|r| r.name == name) {
        Ok(())
    } else {
        Err(format!("the process has no escalation `{name}`"))
    }
}
