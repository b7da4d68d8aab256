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
}

impl Engine {
    /// Sets the timers and clocks of the entered state and writes its
    /// notifications.
    pub(crate) async fn on_entered<T: Tx>(
        &self,
        tx: &mut T,
        process: &Process,
        e: &Entered<'_>,
    ) -> Result<(), RuntimeError> {
        schedule_timers(tx, process, e.id, e.state, e.seq, e.at).await?;
        clock::on_entry(tx, process, e.id, e.state, e.record, e.at).await?;
        self.approval_timeouts_on_entry(tx, process, e).await?;
        self.notify_entry(tx, process, e).await
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
    tx.delete_timers(id).await?;
    let mut seen: Vec<&str> = Vec::new();
    for t in &process.transitions {
        let Some(d) = &t.after else { continue };
        if !t.from.iter().any(|f| f == state) || seen.contains(&t.name.as_str()) {
            continue;
        }
        seen.push(&t.name);
        let start: jiff::Timestamp =
            at.parse().map_err(|e: jiff::Error| RuntimeError::Corrupt {
                what: format!("entry time of instance {id}"),
                reason: e.to_string(),
            })?;
        let due = timer_due(process, start, d)?;
        tx.insert_timer(&TimerRow {
            instance_id: id,
            transition: t.name.clone(),
            due_at: format!("{due:.6}"),
            entered_seq,
        })
        .await?;
    }
    Ok(())
}
