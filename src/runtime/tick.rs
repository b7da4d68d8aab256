//! `Engine::tick`: the runtime's due work — timers, approval timeouts, SLA
//! clocks (warnings and breaches) and schedules — found through their
//! `due_at` indexes, so a tick costs what is due, not what is open.
//!
//! Each kind is claimed in batches of up to [`TICK_BATCH`] items, earliest
//! first, and a batch is processed in one transaction: on PostgreSQL the
//! claim is `FOR UPDATE SKIP LOCKED`, so two tickers never take the same
//! item; on SQLite a write transaction holds the database's write lock, so
//! the second ticker sees what the first did. Every item runs inside a
//! savepoint: an item whose processing fails (a revision conflict with a
//! concurrent writer, a corrupt row) is undone alone and reported in
//! [`TickReport::failed`]; it stays due and is not retried within the same
//! tick, and the rest of the batch commits. Clocks, the kind that comes in
//! mass, are handled in bulk first ([`Engine::clocks_in_bulk`]: one read
//! and one write per table for the batch, the hash chains computed in
//! memory); if that fails, it is undone and the batch's clocks go through
//! the one-by-one path, so the failing one is found and reported alone.
//! Items that are no longer
//! meaningful (the instance left the state, the round is over) are deleted
//! and reported as skipped. One tick handles at most [`TICK_LIMIT`] items
//! per kind; [`TickReport::more`] says when it stopped there.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use serde::Serialize;
use serde_json::{json, Value};

use super::approval::KIND_APPROVAL_TIMEOUT;
use super::clock::{self, DueStep, CLOCK_ACTOR, KIND_BREACH, KIND_WARN};
use super::effects::{Before, Entered};
use super::engine::{append_step, chain_head, new_event, parse_record, Actor, Engine, Step};
use super::error::RuntimeError;
use super::outbox::{self, Subject, WarnFacts};
use super::schedule::{self, SCHEDULE_ACTOR};
use super::store::{
    Advance, ApprovalTimeoutRow, ChainedInstance, ClockRow, EventRow, InstanceRow, Mode, OutboxRow,
    ScheduleRow, Store, TimerRow, Tx,
};
use super::values::{self, Record};
use crate::ir::Process;

/// The actor timer transitions and approval timeouts are recorded as.
pub const TIMER_ACTOR: &str = "system:timer";

/// How many due items one transaction claims and processes at most.
pub const TICK_BATCH: usize = 200;

/// How many items of one kind one [`Engine::tick`] handles at most (a
/// chain of timers that keep becoming due cannot make a tick endless).
pub const TICK_LIMIT: usize = 10_000;

/// The kinds of due work, in the order a tick handles them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DueKind {
    Timer,
    ApprovalTimeout,
    Clock,
    Schedule,
}

impl DueKind {
    const ALL: [DueKind; 4] = [
        DueKind::Timer,
        DueKind::ApprovalTimeout,
        DueKind::Clock,
        DueKind::Schedule,
    ];
}

/// A timer transition `tick` fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimerFired {
    pub instance: i64,
    pub process: String,
    pub transition: String,
    pub from: String,
    pub to: String,
    pub due_at: String,
    pub seq: i64,
}

/// A due timer `tick` dropped without firing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimerSkipped {
    pub instance: i64,
    pub transition: String,
    pub due_at: String,
    pub reason: String,
}

/// An SLA clock `tick` found past its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClockBreached {
    pub instance: i64,
    pub sla: String,
    pub due_at: String,
    pub seq: i64,
}

/// An SLA clock that reached a warn threshold (a `warn` event).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClockWarned {
    pub instance: i64,
    pub sla: String,
    pub percent: f64,
    /// When the threshold was reached.
    pub due_at: String,
    pub seq: i64,
    /// Roles notified.
    pub notified: Vec<String>,
}

/// An approval round that timed out (an `approval_timeout` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalTimedOut {
    pub instance: i64,
    pub approval: String,
    pub state: String,
    pub due_at: String,
    pub seq: i64,
    /// The `escalate to` roles notified.
    pub escalated_to: Vec<String>,
}

/// An instance a schedule started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleStarted {
    pub process: String,
    pub instance: i64,
    pub due_at: String,
    /// The schedule's next due time (the first period after `now`).
    pub next_due: String,
    /// Periods that ended while nothing ticked: not back-filled.
    pub missed_periods: u64,
}

/// A due approval timeout, clock or schedule dropped without effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DueDropped {
    pub kind: DueKind,
    pub instance: Option<i64>,
    /// The approval, SLA or process.
    pub name: String,
    pub due_at: String,
    pub reason: String,
}

/// A due item whose processing failed: undone alone, still due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TickFailure {
    pub kind: DueKind,
    pub instance: Option<i64>,
    /// The transition, approval, SLA or process.
    pub name: String,
    pub due_at: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TickReport {
    pub now: String,
    pub fired: Vec<TimerFired>,
    pub skipped: Vec<TimerSkipped>,
    /// SLA clocks that passed their target (a `breach` event each).
    pub breached: Vec<ClockBreached>,
    /// Warn thresholds reached (a `warn` event each).
    pub warned: Vec<ClockWarned>,
    pub approval_timeouts: Vec<ApprovalTimedOut>,
    /// Instances started by schedules.
    pub scheduled: Vec<ScheduleStarted>,
    /// Approval timeouts, clocks and schedules dropped without effect.
    pub dropped: Vec<DueDropped>,
    pub failed: Vec<TickFailure>,
    /// Transactions committed (one per batch).
    pub transactions: usize,
    /// Whether a kind reached [`TICK_LIMIT`] with work left: tick again.
    pub more: bool,
}

impl TickReport {
    fn new(now: String) -> TickReport {
        TickReport {
            now,
            fired: Vec::new(),
            skipped: Vec::new(),
            breached: Vec::new(),
            warned: Vec::new(),
            approval_timeouts: Vec::new(),
            scheduled: Vec::new(),
            dropped: Vec::new(),
            failed: Vec::new(),
            transactions: 0,
            more: false,
        }
    }

    fn record(&mut self, done: Done) {
        match done {
            Done::Fired(f) => self.fired.push(f),
            Done::TimerSkipped(s) => self.skipped.push(s),
            Done::Breached(b) => self.breached.push(b),
            Done::Warned(w) => self.warned.push(w),
            Done::TimedOut(t) => self.approval_timeouts.push(t),
            Done::Started(s) => self.scheduled.push(s),
            Done::Dropped(d) => self.dropped.push(d),
            Done::Failed(f) => self.failed.push(f),
        }
    }
}

/// One claimed item.
enum Item {
    Timer(TimerRow),
    Timeout(ApprovalTimeoutRow),
    Clock(ClockRow),
    Schedule(ScheduleRow),
}

type Key = (DueKind, i64, String);

impl Item {
    fn key(&self) -> Key {
        match self {
            Item::Timer(t) => (DueKind::Timer, t.instance_id, t.transition.clone()),
            Item::Timeout(t) => (DueKind::ApprovalTimeout, t.instance_id, t.approval.clone()),
            Item::Clock(c) => (DueKind::Clock, c.instance_id, c.sla.clone()),
            Item::Schedule(s) => (DueKind::Schedule, 0, s.process.clone()),
        }
    }

    fn failure(&self, reason: String) -> TickFailure {
        let (kind, instance, name) = self.key();
        let due_at = match self {
            Item::Timer(t) => t.due_at.clone(),
            Item::Timeout(t) => t.due_at.clone().unwrap_or_default(),
            Item::Clock(c) => c.due_at.clone().unwrap_or_default(),
            Item::Schedule(s) => s.next_due.clone(),
        };
        TickFailure {
            kind,
            instance: (kind != DueKind::Schedule).then_some(instance),
            name,
            due_at,
            reason,
        }
    }
}

/// What handling one item did.
enum Done {
    Fired(TimerFired),
    TimerSkipped(TimerSkipped),
    Breached(ClockBreached),
    Warned(ClockWarned),
    TimedOut(ApprovalTimedOut),
    Started(ScheduleStarted),
    Dropped(DueDropped),
    Failed(TickFailure),
}

/// One committed batch.
struct Batch {
    claimed: usize,
    attempted: usize,
    done: Vec<Done>,
}

impl Engine {
    /// Handles the work due at `now`: fires due timers (as
    /// [`TIMER_ACTOR`]), escalates approvals whose round timed out, warns
    /// and breaches SLA clocks, and starts scheduled instances, in batches
    /// (see the module documentation). A timer whose transition is refused
    /// (guard, required fields) or whose instance has moved on is dropped
    /// and reported as skipped; nothing is recorded for it. Everything a
    /// tick writes is stamped `now`, not the wall clock.
    pub async fn tick(&self, now: jiff::Timestamp) -> Result<TickReport, RuntimeError> {
        let now_text = format!("{now:.6}");
        let mut report = TickReport::new(now_text.clone());
        for kind in DueKind::ALL {
            let mut failed: HashSet<Key> = HashSet::new();
            let mut attempted = 0;
            loop {
                if attempted >= TICK_LIMIT {
                    report.more = true;
                    break;
                }
                let limit = TICK_BATCH + failed.len();
                let batch = self.batch(kind, now, &now_text, limit, &failed).await?;
                report.transactions += 1;
                attempted += batch.attempted;
                for done in batch.done {
                    if let Done::Failed(f) = &done {
                        failed.insert((f.kind, f.instance.unwrap_or(0), f.name.clone()));
                    }
                    report.record(done);
                }
                if batch.claimed < limit || batch.attempted == 0 {
                    break;
                }
            }
        }
        Ok(report)
    }

    /// Claims and handles one batch of `kind` in one transaction.
    async fn batch(
        &self,
        kind: DueKind,
        now: jiff::Timestamp,
        now_text: &str,
        limit: usize,
        failed: &HashSet<Key>,
    ) -> Result<Batch, RuntimeError> {
        // What a tick writes happens at its logical time: events, clock
        // segments and timers set by fired transitions count from `now`,
        // so a simulated run (`pdca tick --now T`) reads as if it had run
        // at T.
        let at = now_text.to_string();
        match self.store() {
            Store::Sqlite(pool) => {
                let mut tx = Store::begin_sqlite(pool, Mode::Write).await?;
                let batch = self
                    .batch_in(&mut tx, kind, now, now_text, limit, failed, &at)
                    .await?;
                tx.commit().await?;
                Ok(batch)
            }
            Store::Postgres(pool) => {
                let mut tx = Store::begin_pg(pool, Mode::Write).await?;
                let batch = self
                    .batch_in(&mut tx, kind, now, now_text, limit, failed, &at)
                    .await?;
                tx.commit().await?;
                Ok(batch)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn batch_in<T: Tx>(
        &self,
        tx: &mut T,
        kind: DueKind,
        now: jiff::Timestamp,
        now_text: &str,
        limit: usize,
        failed: &HashSet<Key>,
        at: &str,
    ) -> Result<Batch, RuntimeError> {
        let n = i64::try_from(limit).unwrap_or(i64::MAX);
        let items: Vec<Item> = match kind {
            DueKind::Timer => tx
                .claim_due_timers(now_text, n)
                .await?
                .into_iter()
                .map(Item::Timer)
                .collect(),
            DueKind::ApprovalTimeout => tx
                .claim_due_approval_timeouts(now_text, n)
                .await?
                .into_iter()
                .map(Item::Timeout)
                .collect(),
            DueKind::Clock => tx
                .claim_due_clocks(now_text, n)
                .await?
                .into_iter()
                .map(Item::Clock)
                .collect(),
            DueKind::Schedule => tx
                .claim_due_schedules(now_text, n)
                .await?
                .into_iter()
                .map(Item::Schedule)
                .collect(),
        };
        let mut batch = Batch {
            claimed: items.len(),
            attempted: 0,
            done: Vec::with_capacity(items.len()),
        };
        let items = if kind == DueKind::Clock {
            self.clock_batch_in_bulk(tx, items, now, failed, at, &mut batch)
                .await?
        } else {
            items
        };
        for item in items {
            if failed.contains(&item.key()) {
                continue;
            }
            batch.attempted += 1;
            tx.savepoint().await?;
            match self.handle(tx, &item, now, at).await {
                Ok(done) => {
                    tx.release_savepoint().await?;
                    batch.done.extend(done);
                }
                Err(e) => {
                    tx.rollback_to_savepoint().await?;
                    batch.done.push(Done::Failed(item.failure(e.to_string())));
                }
            }
        }
        Ok(batch)
    }

    /// Handles the claimed clocks in bulk ([`Engine::clocks_in_bulk`]): the
    /// first clock of each instance not failed before. Returns the items
    /// left to handle one by one: the others, or all of them when the bulk
    /// call failed (it is undone).
    async fn clock_batch_in_bulk<T: Tx>(
        &self,
        tx: &mut T,
        items: Vec<Item>,
        now: jiff::Timestamp,
        failed: &HashSet<Key>,
        at: &str,
        batch: &mut Batch,
    ) -> Result<Vec<Item>, RuntimeError> {
        let mut seen: HashSet<i64> = HashSet::new();
        let mut bulk: Vec<ClockRow> = Vec::new();
        let mut rest: Vec<Item> = Vec::new();
        for item in items {
            match item {
                Item::Clock(c)
                    if !failed.contains(&(DueKind::Clock, c.instance_id, c.sla.clone()))
                        && seen.insert(c.instance_id) =>
                {
                    bulk.push(c)
                }
                other => rest.push(other),
            }
        }
        if bulk.len() < 2 {
            rest.extend(bulk.into_iter().map(Item::Clock));
            return Ok(rest);
        }
        tx.savepoint().await?;
        match self.clocks_in_bulk(tx, &bulk, now, at).await {
            Ok(done) => {
                tx.release_savepoint().await?;
                batch.attempted += bulk.len();
                batch.done.extend(done);
                Ok(rest)
            }
            Err(_) => {
                tx.rollback_to_savepoint().await?;
                let mut all: Vec<Item> = bulk.into_iter().map(Item::Clock).collect();
                all.extend(rest);
                Ok(all)
            }
        }
    }

    async fn handle<T: Tx>(
        &self,
        tx: &mut T,
        item: &Item,
        now: jiff::Timestamp,
        at: &str,
    ) -> Result<Vec<Done>, RuntimeError> {
        Ok(match item {
            Item::Timer(t) => vec![self.tick_one(tx, t.clone(), at).await?],
            Item::Timeout(t) => vec![self.timeout_one(tx, t.clone(), at).await?],
            Item::Clock(c) => {
                self.clocks_in_bulk(tx, std::slice::from_ref(c), now, at)
                    .await?
            }
            Item::Schedule(s) => vec![self.schedule_one(tx, s.clone(), now, at).await?],
        })
    }

    // ---------------------------------------------------------------- timers

    async fn tick_one<T: Tx>(
        &self,
        tx: &mut T,
        timer: TimerRow,
        at: &str,
    ) -> Result<Done, RuntimeError> {
        let id = timer.instance_id;
        let skip = |reason: String| {
            Done::TimerSkipped(TimerSkipped {
                instance: id,
                transition: timer.transition.clone(),
                due_at: timer.due_at.clone(),
                reason,
            })
        };
        let Some(inst) = tx.instance(id).await? else {
            tx.delete_timer(id, &timer.transition).await?;
            return Ok(skip("the instance no longer exists".into()));
        };
        let entered = tx.event(id, timer.entered_seq).await?;
        let still_there = entered
            .as_ref()
            .is_some_and(|e| e.to_state == inst.state && inst.revision >= timer.entered_seq);
        let (_, process) = self.pinned(tx, &inst).await?;
        let t = process.transitions.iter().find(|t| {
            t.name == timer.transition
                && t.after.is_some()
                && t.from.iter().any(|f| f == &inst.state)
        });
        let Some(t) = t.filter(|_| still_there) else {
            tx.delete_timer(id, &timer.transition).await?;
            return Ok(skip(format!(
                "the instance left the state the timer was set in (now `{}`)",
                inst.state
            )));
        };
        let actor = Actor::new(TIMER_ACTOR, &[]);
        let record = parse_record(&inst)?;
        if let Some(guard) = &t.guard {
            let refusal = match self.guard(&process, guard, &record, &actor, &inst) {
                Ok(true) => None,
                Ok(false) => Some(format!("its condition `{guard}` is false")),
                Err(reason) => Some(format!("its condition `{guard}` failed: {reason}")),
            };
            if let Some(reason) = refusal {
                tx.delete_timer(id, &timer.transition).await?;
                return Ok(skip(reason));
            }
        }
        let needed = t
            .requires
            .iter()
            .map(String::as_str)
            .chain(values::required_in(&process, &t.to));
        let missing = values::missing(&record, needed);
        if !missing.is_empty() {
            tx.delete_timer(id, &timer.transition).await?;
            return Ok(skip(format!(
                "fields needed for `{}` into `{}` are missing: {}",
                t.name,
                t.to,
                missing.join(", ")
            )));
        }
        let prev_hash = chain_head(tx, id).await?;
        let seq = inst.revision + 1;
        let step = Step {
            actor: &actor,
            kind: "fire",
            transition: Some(&t.name),
            from: &inst.state,
            to: &t.to,
            patch: &Record::new(),
        };
        append_step(tx, id, inst.revision, &inst.record, at, step, &prev_hash).await?;
        let entered = Entered {
            id,
            seq,
            state: &t.to,
            record: &record,
            created_at: &inst.created_at,
            at,
            before: Some(Before {
                state: &inst.state,
                record: &record,
            }),
            spawn_depth: 0,
        };
        self.on_entered(tx, &process, &entered).await?;
        Ok(Done::Fired(TimerFired {
            instance: id,
            process: inst.process.clone(),
            transition: t.name.clone(),
            from: inst.state.clone(),
            to: t.to.clone(),
            due_at: timer.due_at.clone(),
            seq,
        }))
    }

    // ---------------------------------------------------- approval timeouts

    /// Escalates an approval round that reached its timeout while still
    /// open: an `approval_timeout` event and the `escalate to` rows.
    async fn timeout_one<T: Tx>(
        &self,
        tx: &mut T,
        mut row: ApprovalTimeoutRow,
        at: &str,
    ) -> Result<Done, RuntimeError> {
        let id = row.instance_id;
        let due_at = row.due_at.clone().unwrap_or_default();
        let dropped = |reason: String| {
            Done::Dropped(DueDropped {
                kind: DueKind::ApprovalTimeout,
                instance: Some(id),
                name: row.approval.clone(),
                due_at: due_at.clone(),
                reason,
            })
        };
        let Some(inst) = tx.instance(id).await? else {
            tx.delete_approval_timeout(id, &row.approval).await?;
            return Ok(dropped("the instance no longer exists".into()));
        };
        let (_, process) = self.pinned(tx, &inst).await?;
        let open = process.approvals.iter().find(|a| {
            a.name == row.approval
                && a.state == inst.state
                && a.timeout.is_some()
                && inst.revision >= row.entered_seq
        });
        let Some(a) = open else {
            tx.delete_approval_timeout(id, &row.approval).await?;
            return Ok(dropped(format!(
                "the round is over (the instance is in `{}`)",
                inst.state
            )));
        };
        let mut patch = Record::new();
        patch.insert("approval".into(), Value::from(a.name.clone()));
        let seq = self
            .append_in_place(tx, &inst, KIND_APPROVAL_TIMEOUT, TIMER_ACTOR, &patch, at)
            .await?;
        row.due_at = None;
        row.timed_out_seq = Some(seq);
        tx.put_approval_timeout(&row).await?;
        if !a.timeout_escalate_to.is_empty() {
            let requested_at = tx
                .event(id, row.entered_seq)
                .await?
                .map(|e| e.at)
                .unwrap_or_default();
            let record = parse_record(&inst)?;
            let requester = Self::requester(tx, id).await?;
            let subject = subject(&inst, seq, &record, &requester, at);
            let errors =
                outbox::on_approval_timeout(tx, &process, a, &subject, &requested_at).await?;
            self.render_errors
                .fetch_add(errors as u64, Ordering::Relaxed);
        }
        Ok(Done::TimedOut(ApprovalTimedOut {
            instance: id,
            approval: a.name.clone(),
            state: inst.state.clone(),
            due_at,
            seq,
            escalated_to: a.timeout_escalate_to.clone(),
        }))
    }

    /// Appends an event that leaves state and record as they are; returns
    /// its seq.
    async fn append_in_place<T: Tx>(
        &self,
        tx: &mut T,
        inst: &InstanceRow,
        kind: &str,
        actor: &str,
        patch: &Record,
        at: &str,
    ) -> Result<i64, RuntimeError> {
        let prev_hash = chain_head(tx, inst.id).await?;
        let step = Step {
            actor: &Actor::new(actor, &[]),
            kind,
            transition: None,
            from: &inst.state,
            to: &inst.state,
            patch,
        };
        append_step(
            tx,
            inst.id,
            inst.revision,
            &inst.record,
            at,
            step,
            &prev_hash,
        )
        .await?;
        Ok(inst.revision + 1)
    }

    // ---------------------------------------------------------------- clocks

    /// Handles clocks due at `now`, each on a different instance: each warn
    /// threshold reached (in order), then the breach if reached too. All
    /// reads are one query and all writes one statement per table, so a
    /// batch of clocks costs a handful of round trips; an error (such as an
    /// instance that moved meanwhile) fails the whole call, and the caller
    /// then handles the clocks one by one.
    async fn clocks_in_bulk<T: Tx>(
        &self,
        tx: &mut T,
        claimed: &[ClockRow],
        now: jiff::Timestamp,
        at: &str,
    ) -> Result<Vec<Done>, RuntimeError> {
        let ids: Vec<i64> = claimed.iter().map(|c| c.instance_id).collect();
        let instances: HashMap<i64, ChainedInstance> = tx
            .chained_instances(&ids)
            .await?
            .into_iter()
            .map(|i| (i.row.id, i))
            .collect();
        let actor = Actor::new(CLOCK_ACTOR, &[]);
        let mut done = Vec::new();
        let mut events: Vec<EventRow> = Vec::new();
        let mut moves: Vec<Advance> = Vec::new();
        let mut clocks: Vec<ClockRow> = Vec::with_capacity(claimed.len());
        let mut notes: Vec<OutboxRow> = Vec::new();
        let mut render_errors = 0;
        for c in claimed {
            let id = c.instance_id;
            let ci = instances
                .get(&id)
                .ok_or(RuntimeError::UnknownInstance { id })?;
            let inst = &ci.row;
            let (_, process) = self.pinned(tx, inst).await?;
            let mut c = c.clone();
            let Some(sla) = process.slas.iter().find(|s| s.name == c.sla) else {
                let due_at = c.due_at.take().unwrap_or_default();
                c.warn_at = None;
                done.push(Done::Dropped(DueDropped {
                    kind: DueKind::Clock,
                    instance: Some(id),
                    name: c.sla.clone(),
                    due_at,
                    reason: "the instance's definition has no such SLA".into(),
                }));
                clocks.push(c);
                continue;
            };
            let mut revision = inst.revision;
            let mut head = ci.head.clone();
            let mut record: Option<Record> = None;
            loop {
                let step = clock::due_step(&process, sla, &c, now)?;
                let (kind, percent) = match &step {
                    DueStep::Nothing => {
                        clock::reschedule(&process, sla, &mut c)?;
                        break;
                    }
                    DueStep::Warn { index, .. } => {
                        let Some(w) = sla.warns.get(*index) else {
                            break;
                        };
                        (KIND_WARN, Some(w))
                    }
                    DueStep::Breach { .. } => (KIND_BREACH, None),
                };
                let mut patch = Record::new();
                patch.insert("sla".into(), Value::from(c.sla.clone()));
                if let Some(w) = percent {
                    patch.insert("percent".into(), json!(w.percent));
                }
                revision += 1;
                let event = new_event(
                    id,
                    revision,
                    at,
                    &actor,
                    kind,
                    None,
                    Some(&inst.state),
                    &inst.state,
                    &patch,
                    &head,
                );
                head = event.hash.clone();
                events.push(event);
                let notify = match percent {
                    Some(w) => !w.notify.is_empty(),
                    None => !sla.breach_escalate_to.is_empty(),
                };
                let record = match (&record, notify) {
                    (Some(r), _) => Some(r),
                    (None, true) => Some(&*record.insert(parse_record(inst)?)),
                    (None, false) => None,
                };
                let subject = record.map(|r| subject(inst, revision, r, &ci.requester, at));
                match (step, percent) {
                    (DueStep::Warn { at: reached, .. }, Some(w)) => {
                        clock::warned(&process, sla, &mut c)?;
                        if let Some(subject) = &subject {
                            let breach = clock::breach_at(&process, sla, &c)?.unwrap_or_default();
                            let facts = WarnFacts {
                                target_minutes: c.target,
                                elapsed_minutes: clock::warn_minutes(c.target, w.percent),
                                due_at: &breach,
                            };
                            let (rows, errors) =
                                outbox::warn_rows(&process, sla, w, subject, &facts);
                            notes.extend(rows);
                            render_errors += errors;
                        }
                        done.push(Done::Warned(ClockWarned {
                            instance: id,
                            sla: c.sla.clone(),
                            percent: w.percent,
                            due_at: reached,
                            seq: revision,
                            notified: w.notify.clone(),
                        }));
                    }
                    (DueStep::Breach { at: due_at }, _) => {
                        clock::breach(&mut c);
                        if let Some(subject) = &subject {
                            let (rows, errors) =
                                outbox::breach_rows(&process, sla, subject, c.target, &due_at);
                            notes.extend(rows);
                            render_errors += errors;
                        }
                        done.push(Done::Breached(ClockBreached {
                            instance: id,
                            sla: c.sla.clone(),
                            due_at,
                            seq: revision,
                        }));
                        break;
                    }
                    _ => break,
                }
            }
            if revision != inst.revision {
                moves.push(Advance {
                    id,
                    from: inst.revision,
                    to: revision,
                });
            }
            clocks.push(c);
        }
        let moved = tx.advance_instances(&moves, at).await?;
        if moved != moves.len() as u64 {
            return Err(RuntimeError::Conflict {
                id: moves.first().map_or(0, |m| m.id),
                expected: moves.first().map_or(0, |m| m.from),
                actual: None,
            });
        }
        tx.insert_events(&events).await?;
        tx.put_clocks(&clocks).await?;
        tx.insert_outboxes(&notes).await?;
        self.render_errors
            .fetch_add(render_errors as u64, Ordering::Relaxed);
        Ok(done)
    }

    // ------------------------------------------------------------- schedules

    /// Starts one instance of a due schedule's process and moves the
    /// schedule past `now`.
    async fn schedule_one<T: Tx>(
        &self,
        tx: &mut T,
        row: ScheduleRow,
        now: jiff::Timestamp,
        at: &str,
    ) -> Result<Done, RuntimeError> {
        let dropped = |reason: &str| {
            Done::Dropped(DueDropped {
                kind: DueKind::Schedule,
                instance: None,
                name: row.process.clone(),
                due_at: row.next_due.clone(),
                reason: reason.to_string(),
            })
        };
        let Some(def) = tx.active_definition(&row.process).await? else {
            tx.delete_schedule(&row.process).await?;
            return Ok(dropped("the process is not deployed"));
        };
        let process: std::sync::Arc<Process> = self.process_of(&def)?;
        let Some(every) = process.schedule else {
            tx.delete_schedule(&row.process).await?;
            return Ok(dropped("the deployed version has no schedule"));
        };
        // The schedule starts on behalf of the roles that may start the
        // process; its id says it was the schedule.
        let actor = Actor {
            id: SCHEDULE_ACTOR.to_string(),
            roles: process.started_by.clone(),
        };
        let view = self
            .start_in(tx, &row.process, &actor, &json!({}), at)
            .await?;
        let (next, missed) = schedule::advance(&process, &every, &row.next_due, now)?;
        let next_due = format!("{next:.6}");
        tx.put_schedule(&ScheduleRow {
            process: row.process.clone(),
            every: schedule::describe(&every),
            next_due: next_due.clone(),
            last_instance: Some(view.id),
            last_started_at: Some(at.to_string()),
        })
        .await?;
        Ok(Done::Started(ScheduleStarted {
            process: row.process.clone(),
            instance: view.id,
            due_at: row.next_due.clone(),
            next_due,
            missed_periods: missed,
        }))
    }
}

/// What a notification of a tick event is about.
fn subject<'a>(
    inst: &'a InstanceRow,
    seq: i64,
    record: &'a Record,
    requester: &'a str,
    at: &'a str,
) -> Subject<'a> {
    Subject {
        id: inst.id,
        seq,
        state: &inst.state,
        record,
        requester,
        created_at: &inst.created_at,
        at,
    }
}
