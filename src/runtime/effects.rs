//! What entering a state sets in motion, written in the same transaction
//! as the step that entered it: the state's timers, its SLA clocks and its
//! `on enter` notifications, its approvals' timeouts. Every path into a state (start, fire, an
//! approval outcome, a timer) goes through [`Engine::on_entered`], so a new
//! effect is added in one place.

use std::sync::atomic::Ordering;

use super::approval;
use super::clock;
use super::engine::{timer_due, Engine};
use super::error::RuntimeError;
use super::outbox::{self, Subject};
use super::store::{TimerRow, Tx};
use super::values::Record;
use crate::ir::Process;

/// Instance `id` has just entered `state` by event `seq` at `at`.
pub(crate) struct Entered<'a> {
    pub id: i64,
    pub seq: i64,
    pub state: &'a str,
    /// The record after the step.
    pub record: &'a Record,
    pub created_at: &'a str,
    pub at: &'a str,
    /// The state and record before the step; `None` at start (and, to
    /// spare a copy, when the process has no escalation rule: they are the
    /// only reader).
    pub before: Option<Before<'a>>,
    /// How many spawns led to this step in this transaction (0 when a
    /// person, a timer or an approval made it).
    pub spawn_depth: usize,
}

/// The instance before the step that entered a state.
pub(crate) struct Before<'a> {
    pub state: &'a str,
    pub record: &'a Record,
}

/// Where the events appended after the step left the instance.
pub(crate) struct Settled {
    /// The revision after the step and its follow-up events.
    pub revision: i64,
    /// The record when a follow-up event changed it (a `link` field).
    pub record: Option<Record>,
}

impl Settled {
    /// The record after the step and its follow-up events.
    pub fn record<'a>(&'a self, e: &'a Entered<'_>) -> &'a Record {
        self.record.as_ref().unwrap_or(e.record)
    }
}

impl Engine {
    /// Sets the timers and clocks of the entered state, writes its
    /// notifications, spawns the instances it spawns and raises the
    /// escalations whose condition became true.
    pub(crate) async fn on_entered<T: Tx>(
        &self,
        tx: &mut T,
        process: &Process,
        e: &Entered<'_>,
    ) -> Result<Settled, RuntimeError> {
        schedule_timers(tx, process, e.id, e.state, e.seq, e.at).await?;
        clock::on_entry(tx, process, e.id, e.state, e.record, e.at).await?;
        self.approval_timeouts_on_entry(tx, process, e).await?;
        self.notify_entry(tx, process, e).await?;
        let mut settled = Settled {
            revision: e.seq,
            record: None,
        };
        self.spawn_on_entry(tx, process, e, &mut settled).await?;
        self.escalate(tx, process, e, &mut settled).await?;
        Ok(settled)
    }

    /// Sets the timeouts of the approvals of the entered state and cancels
    /// those of the state left.
    async fn approval_timeouts_on_entry<T: Tx>(
        &self,
        tx: &mut T,
        process: &Process,
        e: &Entered<'_>,
    ) -> Result<(), RuntimeError> {
        approval::timeouts_on_entry(tx, process, e.id, e.state, e.seq, e.at).await
    }

    /// Writes the `on enter` notifications of the entered state.
    async fn notify_entry<T: Tx>(
        &self,
        tx: &mut T,
        process: &Process,
        e: &Entered<'_>,
    ) -> Result<(), RuntimeError> {
        if !process
            .on_enter
            .iter()
            .any(|o| o.states.iter().any(|s| s == e.state))
        {
            return Ok(());
        }
        let requester = Self::requester(tx, e.id).await?;
        let subject = Subject {
            id: e.id,
            seq: e.seq,
            state: e.state,
            record: e.record,
            requester: &requester,
            created_at: e.created_at,
            at: e.at,
        };
        let errors = outbox::on_entry(tx, process, &subject).await?;
        self.render_errors
            .fetch_add(errors as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// Replaces the timers of instance `id` with one per `after` transition
/// leaving `state`, entered by event `entered_seq` at `at`.
async fn schedule_timers<T: Tx>(
    tx: &mut T,
    process: &Process,
    id: i64,
    state: &str,
    entered_seq: i64,
    at: &str,
) -> Result<(), RuntimeError> {
    // An instance keeps its definition: without `after` transitions it
    // never has timers to replace.
    if process.transitions.iter().all(|t| t.after.is_none()) {
        return Ok(());
    }
    tx.delete_timers(id).await?;
    let mut seen: Vec<&str> = Vec::new();
    for t in &process.transitions {
        let Some(d) = &t.after else { continue };
        if !t.from.iter().any(|f| f == state) || seen.contains(&t.name.as_str()) {
            continue;
        }
        seen.push(&t.name);
        tx.insert_timer(&TimerRow {
            instance_id: id,
            transition: t.name.clone(),
            due_at: due_after(process, at, d)?,
            entered_seq,
        })
        .await?;
    }
    Ok(())
}

/// When something set at `at` for duration `d` is due (as stored text):
/// business durations on the process calendar, see [`timer_due`].
pub(crate) fn due_after(
    process: &Process,
    at: &str,
    d: &crate::ir::Duration,
) -> Result<String, RuntimeError> {
    let due = timer_due(process, clock::parse_ts(at)?, d)?;
    Ok(format!("{due:.6}"))
}
