//! The engine: deploy definitions, start instances, fire transitions.
//!
//! Every operation is one database transaction: read the instance (with
//! its revision), check the actor's roles, the patch, the guard and the
//! required fields, then update the instance *only if its revision is
//! still the one read* and append the event. A refused operation returns a
//! specific [`RuntimeError`] and changes nothing; a concurrent writer loses
//! with [`RuntimeError::Conflict`].
//!
//! An instance's revision is the seq of its latest event: 1 after `start`,
//! one more per transition, per approval decision and per automatic move an
//! approval's outcome makes (see [`super::approval`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::approval::{
    self, Decision, OpenApproval, KIND_APPROVAL_TIMEOUT, KIND_APPROVED, KIND_DECISION,
    KIND_REJECTED, SYSTEM_ACTOR,
};
use super::audit::{canonical_json, EventContent, GENESIS};
use super::calendar::BusinessCalendar;
use super::clock::{self, ClockView, KIND_BREACH, KIND_WARN};
use super::effects::{Before, Entered};
use super::error::{FieldProblem, ProblemKind, RuntimeError};
use super::escalation::{EscalationView, KIND_ESCALATION};
use super::idempotency::{self, IdempotencyKey, Written};
use super::spawn::{LinkView, KIND_SPAWN};
use super::store::{DefinitionRow, EventRow, InstanceRow, Mode, OutboxRow, Store, Tx};
use super::values::{self, EntryContext, Record};
use crate::ir::{Process, Program, Transition};
use crate::script;

pub use super::tick::{
    ApprovalTimedOut, ClockBreached, ClockWarned, DueDropped, ScheduleStarted, TickFailure,
    TickReport, TimerFired, TimerSkipped, TICK_BATCH, TICK_LIMIT, TIMER_ACTOR,
};

/// Runs `$body` in a transaction on whichever backend `$store` is, with
/// `$tx` bound to it; commits when `$body` succeeds (an early `?` return
/// drops the transaction, which rolls it back).
macro_rules! in_tx {
    ($store:expr, $mode:expr, |$tx:ident| $body:expr) => {
        match $store {
            Store::Sqlite(pool) => {
                let mut $tx = Store::begin_sqlite(pool, $mode).await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            Store::Postgres(pool) => {
                let mut $tx = Store::begin_pg(pool, $mode).await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

/// Who performs an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    pub roles: Vec<String>,
}

impl Actor {
    pub fn new(id: impl Into<String>, roles: &[&str]) -> Actor {
        Actor {
            id: id.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        }
    }

    /// Reads `ID:ROLE[,ROLE…]` (roles may be omitted: `ID`).
    pub fn parse(text: &str) -> Result<Actor, String> {
        let (id, roles) = text.split_once(':').unwrap_or((text, ""));
        let actor = Actor {
            id: id.trim().to_string(),
            roles: roles
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(String::from)
                .collect(),
        };
        actor.check().map_err(|e| format!("`{text}`: {e}"))?;
        Ok(actor)
    }

    fn check(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("the actor needs an id, as in `alice:service_desk`".into());
        }
        if self.id.len() > 256 || self.roles.iter().any(|r| r.len() > 256) {
            return Err("actor ids and role names are limited to 256 bytes".into());
        }
        if self.roles.iter().any(|r| r.trim().is_empty()) {
            return Err("a role name cannot be empty".into());
        }
        Ok(())
    }

    fn holds_any(&self, roles: &[String]) -> bool {
        self.roles.iter().any(|r| roles.contains(r))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployStatus {
    /// First deployment of the process.
    Created,
    /// A changed definition: stored as a new version.
    Updated,
    /// The active version already has this content.
    Unchanged,
    /// The content of an earlier version: that version is active again.
    Reactivated,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployed {
    pub process: String,
    pub version: i64,
    pub definition_id: i64,
    pub hash: String,
    pub status: DeployStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployReport {
    pub processes: Vec<Deployed>,
}

/// An instance as shown to users (and, as `Instance`, in the HTTP API's
/// OpenAPI document).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Instance)]
pub struct InstanceView {
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
    /// Approvals open in the current state, with the decisions so far.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<OpenApproval>,
    /// The instance's SLA clocks as of now (see [`super::clock`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<ClockView>,
    /// The instance that spawned this one (filled by [`Engine::show`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spawned_by: Option<LinkView>,
    /// The instances this one spawned (filled by [`Engine::show`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spawned: Vec<LinkView>,
    /// The escalations raised on this instance (filled by [`Engine::show`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub escalations: Vec<EscalationView>,
}

/// An instance in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = InstanceItem)]
pub struct InstanceSummary {
    pub id: i64,
    /// The definition the instance runs on (for read authorization).
    #[serde(skip)]
    pub definition_id: i64,
    pub process: String,
    pub version: i64,
    pub state: String,
    pub revision: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// One event of an instance's history.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Event)]
pub struct EventView {
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

pub struct Engine {
    store: Store,
    scripts: rhai::Engine,
    /// Definitions are immutable once stored: parsed once per id.
    /// Parsed definitions by id, with their row (IR text dropped): a
    /// definition never changes once stored, so a transition need not read it.
    definitions: Mutex<HashMap<i64, (DefinitionRow, Arc<Process>)>>,
    /// Notifications whose template failed to render (stored with the
    /// error as body) since this engine was made.
    pub(super) render_errors: AtomicU64,
    /// Escalation conditions that failed to evaluate (counted as false)
    /// since this engine was made.
    pub(super) escalation_errors: AtomicU64,
}

/// What a caller's write adds to the engine's own checks: the server's
/// rules. The CLI's writes use the default (none).
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Refuse as [`RuntimeError::UnknownInstance`] an instance the actor
    /// may not read (it holds none of the roles of the definition the
    /// instance runs on, [`super::access::can_read`]), before anything
    /// else about it is checked: who may not read an instance learns
    /// nothing about it, not even whether it exists.
    pub readers_only: bool,
    /// Answer a repeated request with the answer of the first (see
    /// [`super::idempotency`]).
    pub idempotency: Option<IdempotencyKey>,
}

/// Now, in UTC with microseconds (sorts as text).
pub fn now() -> String {
    format!("{:.6}", jiff::Timestamp::now())
}

impl Engine {
    pub fn new(store: Store) -> Engine {
        Engine {
            store,
            scripts: script::sandboxed_engine(),
            definitions: Mutex::new(HashMap::new()),
            render_errors: AtomicU64::new(0),
            escalation_errors: AtomicU64::new(0),
        }
    }

    /// How many notifications failed to render since this engine was made.
    pub fn render_errors(&self) -> u64 {
        self.render_errors.load(Ordering::Relaxed)
    }

    /// How many escalation conditions failed to evaluate since this engine
    /// was made (each counted as false; see [`super::escalation`]).
    pub fn escalation_errors(&self) -> u64 {
        self.escalation_errors.load(Ordering::Relaxed)
    }

    /// The notification outbox in id order; only unsent rows with
    /// `pending_only`.
    pub async fn outbox(&self, pending_only: bool) -> Result<Vec<OutboxRow>, RuntimeError> {
        Ok(in_tx!(&self.store, Mode::Read, |tx| tx
            .outbox(pending_only)
            .await?))
    }

    /// The actor who started instance `id` (the actor of its first event).
    pub(super) async fn requester<T: Tx>(tx: &mut T, id: i64) -> Result<String, RuntimeError> {
        super::spawn::requester(tx, id).await
    }

    /// Connects (and migrates) the database at `url`.
    pub async fn connect(url: &str) -> Result<Engine, RuntimeError> {
        Ok(Engine::new(Store::connect(url).await?))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The parsed IR of a stored definition.
    pub(crate) fn process_of(&self, def: &DefinitionRow) -> Result<Arc<Process>, RuntimeError> {
        if let Some((_, p)) = self.cached(def.id) {
            return Ok(p);
        }
        let process: Process =
            serde_json::from_str(&def.ir).map_err(|e| RuntimeError::Corrupt {
                what: format!("definition of `{}` v{}", def.process, def.version),
                reason: e.to_string(),
            })?;
        let process = Arc::new(process);
        if let Ok(mut cache) = self.definitions.lock() {
            let row = DefinitionRow {
                ir: String::new(),
                ..def.clone()
            };
            cache.insert(def.id, (row, process.clone()));
        }
        Ok(process)
    }

    fn cached(&self, id: i64) -> Option<(DefinitionRow, Arc<Process>)> {
        self.definitions.lock().ok()?.get(&id).cloned()
    }

    /// The instance to change (refusing a stale `expected_revision`) and the
    /// definition it is pinned to: the common start of `fire` and `decide`.
    ///
    /// With `readers_only`, an instance that actor may not read (see
    /// [`WriteOptions::readers_only`]) is refused as unknown before its
    /// revision, state or anything else about it is looked at.
    async fn load_for_write<T: Tx>(
        &self,
        tx: &mut T,
        id: i64,
        expected_revision: Option<i64>,
        readers_only: Option<&Actor>,
    ) -> Result<(InstanceRow, String, DefinitionRow, Arc<Process>), RuntimeError> {
        let (inst, head) = tx
            .instance_with_head(id)
            .await?
            .ok_or(RuntimeError::UnknownInstance { id })?;
        if let Some(actor) = readers_only {
            let (_, process) = self.pinned(tx, &inst).await?;
            if !super::access::can_read(actor, &process) {
                return Err(RuntimeError::UnknownInstance { id });
            }
        }
        if let Some(expected) = expected_revision {
            if expected != inst.revision {
                return Err(RuntimeError::Conflict {
                    id,
                    expected,
                    actual: Some(inst.revision),
                });
            }
        }
        // The latest event's seq is the revision; an instance without it is
        // a broken chain, which `pdca audit verify` names.
        let head = head.ok_or_else(|| RuntimeError::Corrupt {
            what: format!("audit trail of instance {id}"),
            reason: format!("no event at its revision {}", inst.revision),
        })?;
        let (def, process) = self.pinned(tx, &inst).await?;
        Ok((inst, head, def, process))
    }

    /// The definition an instance is pinned to, from the cache when it has
    /// been read before (its `ir` text is then empty).
    pub(super) async fn pinned<T: Tx>(
        &self,
        tx: &mut T,
        inst: &InstanceRow,
    ) -> Result<(DefinitionRow, Arc<Process>), RuntimeError> {
        if let Some(hit) = self.cached(inst.definition_id) {
            return Ok(hit);
        }
        let def = self.definition_row(tx, inst).await?;
        let process = self.process_of(&def)?;
        Ok((def, process))
    }

    // ---------------------------------------------------------------- deploy

    /// Stores every process of `program`. A process whose content hash is
    /// the active one is unchanged; new content becomes the next version;
    /// the content of an earlier version makes that version active again.
    /// Running instances stay on the definition they started on.
    pub async fn deploy(&self, program: &Program) -> Result<DeployReport, RuntimeError> {
        let at = now();
        let mut processes: Vec<Process> = program.processes.clone();
        for p in &mut processes {
            if p.hash.is_empty() {
                p.seal();
            }
        }
        // Two deploys at once would both find no active version and insert
        // the same one: PostgreSQL deploys queue on an advisory lock held
        // to the end of the transaction (READ COMMITTED: each then sees what
        // the one before committed); SQLite writers queue at BEGIN IMMEDIATE.
        let report = match &self.store {
            Store::Sqlite(pool) => {
                let mut tx = Store::begin_sqlite(pool, Mode::Write).await?;
                let report = deploy_all(&mut tx, &processes, &at).await?;
                tx.commit().await?;
                report
            }
            Store::Postgres(pool) => {
                let mut tx = Store::begin_pg(pool, Mode::Write).await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(DEPLOY_LOCK)
                    .execute(&mut *tx.0)
                    .await?;
                let report = deploy_all(&mut tx, &processes, &at).await?;
                tx.commit().await?;
                report
            }
        };
        Ok(report)
    }
}

/// The PostgreSQL advisory lock key deploys serialize on ("pdcadepl").
const DEPLOY_LOCK: i64 = 0x7064_6361_6465_706c;

async fn deploy_all<T: Tx>(
    tx: &mut T,
    processes: &[Process],
    at: &str,
) -> Result<DeployReport, RuntimeError> {
    let mut report = DeployReport {
        processes: Vec::new(),
    };
    for p in processes {
        report.processes.push(deploy_one(tx, p, at).await?);
        super::schedule::on_deploy(tx, p, at).await?;
    }
    Ok(report)
}

async fn deploy_one<T: Tx>(tx: &mut T, p: &Process, at: &str) -> Result<Deployed, RuntimeError> {
    let deployed = |def: &DefinitionRow, status| Deployed {
        process: p.name.clone(),
        version: def.version,
        definition_id: def.id,
        hash: p.hash.clone(),
        status,
    };
    if let Some(active) = tx.active_definition(&p.name).await? {
        if active.hash == p.hash {
            return Ok(deployed(&active, DeployStatus::Unchanged));
        }
    }
    if let Some(earlier) = tx.definition_by_hash(&p.name, &p.hash).await? {
        tx.deactivate(&p.name).await?;
        tx.activate(earlier.id).await?;
        return Ok(deployed(&earlier, DeployStatus::Reactivated));
    }
    let ir = serde_json::to_string(p).map_err(|e| RuntimeError::Database {
        reason: format!("cannot serialize the definition of `{}`: {e}", p.name),
    })?;
    let version = tx.max_version(&p.name).await? + 1;
    tx.deactivate(&p.name).await?;
    let id = tx
        .insert_definition(&p.name, version, &p.hash, &ir, at)
        .await?;
    Ok(Deployed {
        process: p.name.clone(),
        version,
        definition_id: id,
        hash: p.hash.clone(),
        status: if version == 1 {
            DeployStatus::Created
        } else {
            DeployStatus::Updated
        },
    })
}

/// Transitions a person can fire from `state`, by name, without repeats.
pub fn fireable_from(process: &Process, state: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in &process.transitions {
        if !t.by.is_empty() && t.from.iter().any(|f| f == state) && !out.contains(&t.name) {
            out.push(t.name.clone());
        }
    }
    out
}

fn describe_duration(d: &crate::ir::Duration) -> String {
    let word = match d.unit {
        crate::ir::DurationUnit::Minutes => "minute",
        crate::ir::DurationUnit::Hours => "hour",
        crate::ir::DurationUnit::Days => "day",
        crate::ir::DurationUnit::Weeks => "week",
        crate::ir::DurationUnit::Months => "month",
        crate::ir::DurationUnit::Years => "year",
    };
    format!(
        "{} {}{word}{}",
        d.amount,
        if d.business { "business " } else { "" },
        if d.amount == 1 { "" } else { "s" }
    )
}

fn corrupt_record(id: i64, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Corrupt {
        what: format!("record of instance {id}"),
        reason: e.to_string(),
    }
}

pub(super) fn parse_record(inst: &InstanceRow) -> Result<Record, RuntimeError> {
    match serde_json::from_str(&inst.record) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(corrupt_record(inst.id, "not a JSON object")),
        Err(e) => Err(corrupt_record(inst.id, e)),
    }
}

pub(super) fn record_text(record: &Record) -> String {
    canonical_json(&Value::Object(record.clone()))
}

/// Checks that every instance a patch links to exists and belongs to the
/// field's process.
async fn check_references<T: Tx>(
    tx: &mut T,
    process: &Process,
    patch: &Record,
) -> Result<(), RuntimeError> {
    let mut problems = Vec::new();
    for (field, target, id) in values::references(process, patch) {
        let message = match tx.instance_process(id).await? {
            Some(p) if p == target => continue,
            Some(p) => format!("instance {id} is a `{p}`, not a `{target}`"),
            None => format!("there is no `{target}` instance with id {id}"),
        };
        problems.push(FieldProblem {
            field,
            kind: ProblemKind::NoSuchInstance,
            message,
        });
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RuntimeError::InvalidFields { problems })
    }
}

/// Builds the event row: canonical JSON columns and the chained hash.
/// One step of an instance's history, for [`append_step`].
pub(super) struct Step<'a> {
    pub actor: &'a Actor,
    pub kind: &'a str,
    pub transition: Option<&'a str>,
    pub from: &'a str,
    pub to: &'a str,
    pub patch: &'a Record,
}

/// The hash the next event of instance `id` chains to.
pub(super) async fn chain_head<T: Tx>(tx: &mut T, id: i64) -> Result<String, RuntimeError> {
    let prev = tx.last_event(id).await?;
    Ok(prev.map_or_else(|| GENESIS.to_string(), |e| e.hash))
}

/// Writes one step: the instance row moves to `step.to` with `record`
/// (refused with a conflict if it is no longer at `revision`), and the event
/// that says so is appended to the chain after `prev_hash`.
pub(super) async fn append_step<T: Tx>(
    tx: &mut T,
    id: i64,
    revision: i64,
    record: &str,
    at: &str,
    step: Step<'_>,
    prev_hash: &str,
) -> Result<EventRow, RuntimeError> {
    if !tx
        .update_instance(id, revision, step.to, record, at)
        .await?
    {
        return Err(RuntimeError::Conflict {
            id,
            expected: revision,
            actual: None,
        });
    }
    let event = new_event(
        id,
        revision + 1,
        at,
        step.actor,
        step.kind,
        step.transition,
        Some(step.from),
        step.to,
        step.patch,
        prev_hash,
    );
    tx.insert_event(&event).await?;
    Ok(event)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn new_event(
    instance: i64,
    seq: i64,
    at: &str,
    actor: &Actor,
    kind: &str,
    transition: Option<&str>,
    from: Option<&str>,
    to: &str,
    patch: &Record,
    prev_hash: &str,
) -> EventRow {
    let roles = Value::from(actor.roles.clone());
    let patch = Value::Object(patch.clone());
    let content = EventContent {
        instance,
        seq,
        at,
        actor: &actor.id,
        roles: &roles,
        kind,
        transition,
        from,
        to,
        patch: &patch,
    };
    EventRow {
        instance_id: instance,
        seq,
        at: at.to_string(),
        actor: actor.id.clone(),
        actor_roles: canonical_json(&roles),
        kind: kind.to_string(),
        transition: transition.map(String::from),
        from_state: from.map(String::from),
        to_state: to.to_string(),
        patch: canonical_json(&patch),
        prev_hash: prev_hash.to_string(),
        hash: content.hash(prev_hash),
    }
}

/// The instant a timer of `process` for duration `d` counted from `start`
/// is due: business durations on the process's calendar, others as plain
/// time (in the calendar's zone, or UTC without one).
pub fn timer_due(
    process: &Process,
    start: jiff::Timestamp,
    d: &crate::ir::Duration,
) -> Result<jiff::Timestamp, RuntimeError> {
    let bad = |reason: String| RuntimeError::Corrupt {
        what: format!("timer of `{}`", process.name),
        reason,
    };
    let calendar = process
        .calendar
        .as_ref()
        .and_then(|name| process.calendars.iter().find(|c| &c.name == name));
    let calendar = match calendar {
        Some(c) => c.clone(),
        None if d.business => {
            return Err(bad(format!(
                "`{}` needs a calendar and the process names none",
                describe_duration(d)
            )))
        }
        None => crate::ir::Calendar {
            name: "utc".into(),
            zone: "UTC".into(),
            week: vec![vec![(0, 1440)]; 7],
            holidays: Vec::new(),
        },
    };
    let cal = BusinessCalendar::new(&calendar).map_err(|e| bad(e.to_string()))?;
    cal.add(start, d).map_err(|e| bad(e.to_string()))
}

/// Folds an instance's events into its state and record, as the engine
/// built them. Fails with the seq of the first event that cannot apply.
pub fn replay(process: &Process, events: &[EventRow]) -> Result<(String, Record), (i64, String)> {
    let mut state: Option<String> = None;
    let mut record = Record::new();
    for e in events {
        match (e.kind.as_str(), &state) {
            ("start", None) => {
                if process.state(&e.to_state).is_none_or(|s| !s.initial) {
                    return Err((e.seq, format!("`{}` is not the initial state", e.to_state)));
                }
            }
            ("start", Some(_)) => return Err((e.seq, "a second start".into())),
            ("fire", None) => return Err((e.seq, "a transition before the start".into())),
            ("fire", Some(current)) => {
                let name = e.transition.as_deref().unwrap_or_default();
                let known = process.transitions.iter().any(|t| {
                    t.name == name && t.to == e.to_state && t.from.iter().any(|f| f == current)
                });
                if e.from_state.as_deref() != Some(current) || !known {
                    return Err((
                        e.seq,
                        format!(
                            "the process has no transition `{name}` from `{current}` to `{}`",
                            e.to_state
                        ),
                    ));
                }
            }
            (kind @ (KIND_BREACH | KIND_WARN | KIND_APPROVAL_TIMEOUT), Some(current)) => {
                // Breaches, warnings and approval timeouts leave the record
                // and the state as they are.
                if e.from_state.as_deref() != Some(current) || &e.to_state != current {
                    return Err((e.seq, format!("a {kind} outside the state `{current}`")));
                }
                continue;
            }
            (
                KIND_DECISION
                | KIND_APPROVED
                | KIND_REJECTED
                | KIND_BREACH
                | KIND_WARN
                | KIND_APPROVAL_TIMEOUT,
                None,
            ) => return Err((e.seq, "an approval event before the start".into())),
            (KIND_SPAWN | KIND_ESCALATION, None) => {
                return Err((e.seq, format!("a `{}` event before the start", e.kind)))
            }
            (KIND_SPAWN, Some(current)) => {
                // Sets the `link` field, if any; the state stays.
                if e.from_state.as_deref() != Some(current) || &e.to_state != current {
                    return Err((e.seq, format!("a spawn outside the state `{current}`")));
                }
                super::spawn::check_event(process, current, e).map_err(|why| (e.seq, why))?;
            }
            (KIND_ESCALATION, Some(current)) => {
                // An escalation leaves the record and the state as they are.
                if e.from_state.as_deref() != Some(current) || &e.to_state != current {
                    return Err((
                        e.seq,
                        format!("an escalation outside the state `{current}`"),
                    ));
                }
                super::escalation::check_event(process, e).map_err(|why| (e.seq, why))?;
                continue;
            }
            (KIND_DECISION, Some(current)) => {
                let name = approval_of(e);
                let known = process
                    .approvals
                    .iter()
                    .any(|a| Some(a.name.as_str()) == name.as_deref() && &a.state == current);
                if !known || e.from_state.as_deref() != Some(current) || &e.to_state != current {
                    return Err((
                        e.seq,
                        format!(
                            "the process has no approval `{}` open in `{current}`",
                            name.unwrap_or_default()
                        ),
                    ));
                }
                // A decision leaves the record and the state as they are.
                continue;
            }
            (kind @ (KIND_APPROVED | KIND_REJECTED), Some(current)) => {
                let name = approval_of(e);
                let known = process.approvals.iter().any(|a| {
                    Some(a.name.as_str()) == name.as_deref()
                        && &a.state == current
                        && &e.to_state
                            == if kind == KIND_APPROVED {
                                &a.approved
                            } else {
                                &a.rejected
                            }
                });
                if !known || e.from_state.as_deref() != Some(current) {
                    return Err((
                        e.seq,
                        format!(
                            "the process has no approval `{}` in `{current}` whose outcome `{kind}` leads to `{}`",
                            name.unwrap_or_default(),
                            e.to_state
                        ),
                    ));
                }
                state = Some(e.to_state.clone());
                continue;
            }
            (kind, _) => return Err((e.seq, format!("unknown event kind `{kind}`"))),
        }
        let mut patch: Record = match serde_json::from_str(&e.patch) {
            Ok(Value::Object(p)) => p,
            _ => return Err((e.seq, "its patch is not a JSON object".into())),
        };
        if e.kind == "start" || e.kind == KIND_SPAWN {
            // `$…` keys name the spawner or the spawned instance, not fields.
            patch.retain(|k, _| !k.starts_with('$'));
        }
        values::apply_patch(process, &mut record, &patch);
        state = Some(e.to_state.clone());
    }
    match state {
        Some(state) => Ok((state, record)),
        None => Err((1, "the instance has no events".into())),
    }
}

/// The approval an approval event names in its patch.
fn approval_of(e: &EventRow) -> Option<String> {
    let patch: Value = serde_json::from_str(&e.patch).ok()?;
    patch.get("approval")?.as_str().map(String::from)
}

impl Engine {
    /// The instance as shown; reads its events when its state has an
    /// approval, to list the decisions of the current round.
    async fn view_in<T: Tx>(
        &self,
        tx: &mut T,
        inst: &InstanceRow,
        def: &DefinitionRow,
    ) -> Result<InstanceView, RuntimeError> {
        let process = self.process_of(def)?;
        let approvals = if process.approvals.iter().any(|a| a.state == inst.state) {
            let events = tx.events(inst.id).await?;
            let mut open = approval::open_approvals(&process, &inst.state, &events);
            if process.approvals.iter().any(|a| a.timeout.is_some()) {
                let rows = tx.approval_timeouts(inst.id).await?;
                approval::attach_timeouts(&mut open, &rows);
            }
            open
        } else {
            Vec::new()
        };
        Ok(InstanceView {
            id: inst.id,
            process: inst.process.clone(),
            version: def.version,
            definition_id: def.id,
            state: inst.state.clone(),
            revision: inst.revision,
            record: Value::Object(parse_record(inst)?),
            created_at: inst.created_at.clone(),
            updated_at: inst.updated_at.clone(),
            next: fireable_from(&process, &inst.state),
            approvals,
            spawned_by: None,
            spawned: Vec::new(),
            escalations: Vec::new(),
            clocks: if process.slas.is_empty() {
                Vec::new()
            } else {
                let rows = tx.clocks(inst.id).await?;
                clock::views(&process, &rows, jiff::Timestamp::now())?
            },
        })
    }

    async fn definition_row<T: Tx>(
        &self,
        tx: &mut T,
        inst: &InstanceRow,
    ) -> Result<DefinitionRow, RuntimeError> {
        tx.definition(inst.definition_id)
            .await?
            .ok_or_else(|| RuntimeError::Corrupt {
                what: format!("instance {}", inst.id),
                reason: format!("its definition (id {}) is missing", inst.definition_id),
            })
    }

    pub(super) async fn active<T: Tx>(
        &self,
        tx: &mut T,
        process: &str,
    ) -> Result<(DefinitionRow, Arc<Process>), RuntimeError> {
        // No process is named with a NUL, and PostgreSQL refuses it in a query.
        let found = if process.contains('\0') {
            None
        } else {
            tx.active_definition(process).await?
        };
        let Some(def) = found else {
            return Err(RuntimeError::NotDeployed {
                process: process.to_string(),
                deployed: tx.deployed_processes().await?,
            });
        };
        let p = self.process_of(&def)?;
        Ok((def, p))
    }

    /// The deployed (active) definition of a process.
    pub async fn definition(&self, process: &str) -> Result<Arc<Process>, RuntimeError> {
        let (_, p) = in_tx!(&self.store, Mode::Read, |tx| self
            .active(&mut tx, process)
            .await?);
        Ok(p)
    }

    /// The definition an instance is pinned to.
    pub async fn definition_of_instance(&self, id: i64) -> Result<Arc<Process>, RuntimeError> {
        let def = in_tx!(&self.store, Mode::Read, |tx| {
            let inst = tx
                .instance(id)
                .await?
                .ok_or(RuntimeError::UnknownInstance { id })?;
            self.definition_row(&mut tx, &inst).await?
        });
        self.process_of(&def)
    }

    // ----------------------------------------------------------------- start

    /// Starts an instance of the deployed version of `process` with the
    /// initial record `fields` (a JSON object).
    pub async fn start(
        &self,
        process: &str,
        actor: &Actor,
        fields: &Value,
    ) -> Result<InstanceView, RuntimeError> {
        actor
            .check()
            .map_err(|reason| RuntimeError::InvalidActor { reason })?;
        let at = now();
        Ok(in_tx!(&self.store, Mode::Write, |tx| self
            .start_in(&mut tx, process, actor, fields, &at)
            .await?))
    }

    pub(super) async fn start_in<T: Tx>(
        &self,
        tx: &mut T,
        name: &str,
        actor: &Actor,
        fields: &Value,
        at: &str,
    ) -> Result<InstanceView, RuntimeError> {
        let (def, process) = self.active(tx, name).await?;
        if !process.started_by.is_empty() && !actor.holds_any(&process.started_by) {
            return Err(RuntimeError::RoleMissing {
                action: format!("start `{name}`"),
                actor: actor.id.clone(),
                actor_roles: actor.roles.clone(),
                allowed: process.started_by.clone(),
            });
        }
        let inst = self
            .start_checked(tx, &def, &process, actor, fields, at, None, 0)
            .await?;
        self.view_in(tx, &inst, &def).await
    }

    /// Starts an instance of `process` (stored as `def`) once the starter is
    /// known to be allowed: checks the initial record, writes the instance
    /// and its `start` event and sets in motion what entering the initial
    /// state does. A spawned instance names its spawner in the start event
    /// (`spawned_by`, under [`super::spawn::SPAWNED_BY`]); `spawn_depth`
    /// counts the spawns that led here in this transaction.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn start_checked<T: Tx>(
        &self,
        tx: &mut T,
        def: &DefinitionRow,
        process: &Process,
        actor: &Actor,
        fields: &Value,
        at: &str,
        spawned_by: Option<Value>,
        spawn_depth: usize,
    ) -> Result<InstanceRow, RuntimeError> {
        let name = process.name.as_str();
        let initial =
            process
                .states
                .iter()
                .find(|s| s.initial)
                .ok_or_else(|| RuntimeError::Corrupt {
                    what: format!("definition of `{name}` v{}", def.version),
                    reason: "it has no initial state".into(),
                })?;
        let ctx = EntryContext {
            at,
            actor: &actor.id,
        };
        let patch = values::normalize_patch(process, fields, ctx, true)
            .map_err(|problems| RuntimeError::InvalidFields { problems })?;
        check_references(tx, process, &patch).await?;
        let mut record = Record::new();
        values::apply_patch(process, &mut record, &patch);
        let missing = values::missing(&record, values::required_in(process, &initial.name));
        if !missing.is_empty() {
            return Err(RuntimeError::MissingFields {
                fields: missing,
                needed_for: format!("starting `{name}` (in `{}`)", initial.name),
            });
        }
        let text = record_text(&record);
        let id = tx
            .insert_instance(name, def.id, &initial.name, &text, at)
            .await?;
        let mut event_patch = patch;
        if let Some(origin) = spawned_by {
            event_patch.insert(super::spawn::SPAWNED_BY.into(), origin);
        }
        let event = new_event(
            id,
            1,
            at,
            actor,
            "start",
            None,
            None,
            &initial.name,
            &event_patch,
            GENESIS,
        );
        tx.insert_event(&event).await?;
        let entered = Entered {
            id,
            seq: 1,
            state: &initial.name,
            record: &record,
            created_at: at,
            at,
            before: None,
            spawn_depth,
        };
        let settled = self.on_entered(tx, process, &entered).await?;
        Ok(InstanceRow {
            id,
            process: name.to_string(),
            definition_id: def.id,
            state: initial.name.clone(),
            record: settled.record.as_ref().map_or(text, record_text),
            revision: settled.revision,
            created_at: at.to_string(),
            updated_at: at.to_string(),
        })
    }

    /// [`Engine::start`] with the server's options: the idempotency key
    /// is claimed and its answer stored in the transaction of the write.
    pub async fn start_with(
        &self,
        opts: &WriteOptions,
        process: &str,
        actor: &Actor,
        fields: &Value,
    ) -> Result<Written, RuntimeError> {
        actor
            .check()
            .map_err(|reason| RuntimeError::InvalidActor { reason })?;
        let at = now();
        let key = opts.idempotency.as_ref();
        Ok(in_tx!(&self.store, Mode::Write, |tx| {
            match idempotency::claim(&mut tx, &actor.id, key, &at).await? {
                Some(replayed) => replayed,
                None => {
                    let view = self.start_in(&mut tx, process, actor, fields, &at).await?;
                    idempotency::complete(&mut tx, &actor.id, key, view).await?
                }
            }
        }))
    }

    /// [`Engine::fire`] with the server's options.
    pub async fn fire_with(
        &self,
        opts: &WriteOptions,
        id: i64,
        transition: &str,
        actor: &Actor,
        patch: &Value,
        expected_revision: Option<i64>,
    ) -> Result<Written, RuntimeError> {
        actor
            .check()
            .map_err(|reason| RuntimeError::InvalidActor { reason })?;
        let at = now();
        let key = opts.idempotency.as_ref();
        Ok(in_tx!(&self.store, Mode::Write, |tx| {
            match idempotency::claim(&mut tx, &actor.id, key, &at).await? {
                Some(replayed) => replayed,
                None => {
                    let view = self
                        .fire_in(
                            &mut tx,
                            id,
                            transition,
                            actor,
                            patch,
                            expected_revision,
                            &at,
                            opts.readers_only,
                        )
                        .await?;
                    idempotency::complete(&mut tx, &actor.id, key, view).await?
                }
            }
        }))
    }

    /// [`Engine::decide`] with the server's options.
    #[allow(clippy::too_many_arguments)]
    pub async fn decide_with(
        &self,
        opts: &WriteOptions,
        id: i64,
        approval: &str,
        actor: &Actor,
        decision: Decision,
        comment: Option<&str>,
        expected_revision: Option<i64>,
    ) -> Result<Written, RuntimeError> {
        actor
            .check()
            .map_err(|reason| RuntimeError::InvalidActor { reason })?;
        let at = now();
        let key = opts.idempotency.as_ref();
        Ok(in_tx!(&self.store, Mode::Write, |tx| {
            match idempotency::claim(&mut tx, &actor.id, key, &at).await? {
                Some(replayed) => replayed,
                None => {
                    let view = self
                        .decide_in(
                            &mut tx,
                            id,
                            approval,
                            actor,
                            decision,
                            comment,
                            expected_revision,
                            &at,
                            opts.readers_only,
                        )
                        .await?;
                    idempotency::complete(&mut tx, &actor.id, key, view).await?
                }
            }
        }))
    }

    /// Forgets the idempotency keys recorded before `before` (RFC 3339):
    /// the worker's tick, with the server's retention. How many it forgot.
    pub async fn expire_idempotency_keys(&self, before: &str) -> Result<u64, RuntimeError> {
        Ok(in_tx!(&self.store, Mode::Write, |tx| tx
            .expire_idempotency_keys(before)
            .await?))
    }

    /// The definition stored under `definition_id` (an instance's
    /// `definition_id`), from the cache when it was read before.
    pub async fn definition_by_id(&self, definition_id: i64) -> Result<Arc<Process>, RuntimeError> {
        if let Some((_, p)) = self.cached(definition_id) {
            return Ok(p);
        }
        let def = in_tx!(&self.store, Mode::Read, |tx| tx
            .definition(definition_id)
            .await?
            .ok_or_else(|| RuntimeError::Corrupt {
                what: format!("definition {definition_id}"),
                reason: "it is missing".into(),
            })?);
        self.process_of(&def)
    }

    // ------------------------------------------------------------------ fire

    /// Fires `transition` on instance `id`, applying `patch` (a JSON object
    /// of field changes; `null` clears a field). With `expected_revision`,
    /// refuses unless the instance is still at that revision.
    pub async fn fire(
        &self,
        id: i64,
        transition: &str,
        actor: &Actor,
        patch: &Value,
        expected_revision: Option<i64>,
    ) -> Result<InstanceView, RuntimeError> {
        actor
            .check()
            .map_err(|reason| RuntimeError::InvalidActor { reason })?;
        let at = now();
        Ok(in_tx!(&self.store, Mode::Write, |tx| self
            .fire_in(
                &mut tx,
                id,
                transition,
                actor,
                patch,
                expected_revision,
                &at,
                false
            )
            .await?))
    }

    #[allow(clippy::too_many_arguments)]
    async fn fire_in<T: Tx>(
        &self,
        tx: &mut T,
        id: i64,
        name: &str,
        actor: &Actor,
        patch: &Value,
        expected_revision: Option<i64>,
        at: &str,
        readers_only: bool,
    ) -> Result<InstanceView, RuntimeError> {
        let (inst, prev_hash, def, process) = self
            .load_for_write(tx, id, expected_revision, readers_only.then_some(actor))
            .await?;
        let t = self.transition(&process, &inst.state, name)?;
        if !actor.holds_any(&t.by) {
            return Err(RuntimeError::RoleMissing {
                action: format!("fire `{name}`"),
                actor: actor.id.clone(),
                actor_roles: actor.roles.clone(),
                allowed: t.by.clone(),
            });
        }
        let ctx = EntryContext {
            at,
            actor: &actor.id,
        };
        let patch = values::normalize_patch(&process, patch, ctx, false)
            .map_err(|problems| RuntimeError::InvalidFields { problems })?;
        check_references(tx, &process, &patch).await?;
        let mut record = parse_record(&inst)?;
        // Only escalation conditions read the record before the step.
        let before_record = (!process.escalations.is_empty()).then(|| record.clone());
        values::apply_patch(&process, &mut record, &patch);
        // Fields first: a guard then never sees a required field the
        // patch cleared (the checker types `required` fields as set).
        let needed = t
            .requires
            .iter()
            .map(String::as_str)
            .chain(values::required_in(&process, &t.to));
        let missing = values::missing(&record, needed);
        if !missing.is_empty() {
            return Err(RuntimeError::MissingFields {
                fields: missing,
                needed_for: format!("`{name}` into `{}`", t.to),
            });
        }
        if let Some(guard) = &t.guard {
            match self.guard(&process, guard, &record, actor, &inst) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(RuntimeError::GuardFalse {
                        transition: name.to_string(),
                        guard: guard.clone(),
                    })
                }
                Err(reason) => {
                    return Err(RuntimeError::GuardFailed {
                        transition: name.to_string(),
                        guard: guard.clone(),
                        reason,
                    })
                }
            }
        }
        let text = record_text(&record);
        let step = Step {
            actor,
            kind: "fire",
            transition: Some(name),
            from: &inst.state,
            to: &t.to,
            patch: &patch,
        };
        append_step(tx, id, inst.revision, &text, at, step, &prev_hash).await?;
        let entered = Entered {
            id,
            seq: inst.revision + 1,
            state: &t.to,
            record: &record,
            created_at: &inst.created_at,
            at,
            before: before_record.as_ref().map(|record| Before {
                state: &inst.state,
                record,
            }),
            spawn_depth: 0,
        };
        let settled = self.on_entered(tx, &process, &entered).await?;
        let updated = InstanceRow {
            state: t.to.clone(),
            record: settled.record.as_ref().map_or(text, record_text),
            revision: settled.revision,
            updated_at: at.to_string(),
            ..inst
        };
        self.view_in(tx, &updated, &def).await
    }

    // ---------------------------------------------------------------- decide

    /// Records `actor`'s decision on `approval` of instance `id` (see
    /// [`approval`] for the semantics). Refused, changing nothing, when the
    /// instance or the approval is unknown, the approval is not open (the
    /// instance is not in its state), the actor holds none of the approver
    /// roles, segregation of duties forbids it (`distinct from requester`
    /// and the actor entered the state; `distinct from ROLE` and the actor
    /// holds that role), the actor already decided in this round, or the
    /// instance is no longer at `expected_revision`.
    ///
    /// The decision is an event of kind `decision`; a rejection, or an
    /// approval that reaches the quorum, then moves the instance to the
    /// `rejected ->` or `approved ->` state in a second event by
    /// `system:approval` (its required fields are checked like any entry).
    pub async fn decide(
        &self,
        id: i64,
        approval: &str,
        actor: &Actor,
        decision: Decision,
        comment: Option<&str>,
        expected_revision: Option<i64>,
    ) -> Result<InstanceView, RuntimeError> {
        actor
            .check()
            .map_err(|reason| RuntimeError::InvalidActor { reason })?;
        let at = now();
        Ok(in_tx!(&self.store, Mode::Write, |tx| self
            .decide_in(
                &mut tx,
                id,
                approval,
                actor,
                decision,
                comment,
                expected_revision,
                &at,
                false
            )
            .await?))
    }

    #[allow(clippy::too_many_arguments)]
    async fn decide_in<T: Tx>(
        &self,
        tx: &mut T,
        id: i64,
        name: &str,
        actor: &Actor,
        decision: Decision,
        comment: Option<&str>,
        expected_revision: Option<i64>,
        at: &str,
        readers_only: bool,
    ) -> Result<InstanceView, RuntimeError> {
        let (inst, _, def, process) = self
            .load_for_write(tx, id, expected_revision, readers_only.then_some(actor))
            .await?;
        let Some(a) = process.approvals.iter().find(|a| a.name == name) else {
            return Err(RuntimeError::UnknownApproval {
                approval: name.to_string(),
                process: process.name.clone(),
                known: process.approvals.iter().map(|a| a.name.clone()).collect(),
            });
        };
        if a.state != inst.state {
            return Err(RuntimeError::ApprovalNotOpen {
                approval: name.to_string(),
                on: a.state.clone(),
                state: inst.state.clone(),
            });
        }
        if !actor.holds_any(&a.approvers) {
            return Err(RuntimeError::NotAnApprover {
                approval: name.to_string(),
                actor: actor.id.clone(),
                actor_roles: actor.roles.clone(),
                approvers: a.approvers.clone(),
            });
        }
        let events = tx.events(id).await?;
        let (requester, _, mut decisions) =
            approval::round(name, &a.state, &events).ok_or_else(|| RuntimeError::Corrupt {
                what: format!("history of instance {id}"),
                reason: format!("it never entered `{}`", a.state),
            })?;
        if a.distinct_from_requester && requester == actor.id {
            return Err(RuntimeError::RequesterMayNotDecide {
                approval: name.to_string(),
                actor: actor.id.clone(),
            });
        }
        if let Some(role) = a
            .distinct_from_roles
            .iter()
            .find(|r| actor.roles.contains(r))
        {
            return Err(RuntimeError::ExcludedRole {
                approval: name.to_string(),
                actor: actor.id.clone(),
                role: role.clone(),
            });
        }
        if let Some(d) = decisions.iter().find(|d| d.actor == actor.id) {
            return Err(RuntimeError::AlreadyDecided {
                approval: name.to_string(),
                actor: actor.id.clone(),
                decision: d.decision.as_str().to_string(),
                seq: d.seq,
            });
        }
        if let Some(problem) = comment.and_then(|c| values::nul_problem("comment", c)) {
            return Err(RuntimeError::InvalidFields {
                problems: vec![problem],
            });
        }
        decisions.push(approval::DecisionView {
            seq: inst.revision + 1,
            at: at.to_string(),
            actor: actor.id.clone(),
            roles: actor.roles.clone(),
            decision,
            comment: comment.map(String::from),
        });
        let outcome = match decision {
            Decision::Reject => Some((KIND_REJECTED, &a.rejected)),
            Decision::Approve if approval::quorum_reached(&process, a, &decisions) => {
                Some((KIND_APPROVED, &a.approved))
            }
            Decision::Approve => None,
        };
        let record = parse_record(&inst)?;
        if let Some((kind, to)) = outcome {
            let missing = values::missing(&record, values::required_in(&process, to));
            if !missing.is_empty() {
                return Err(RuntimeError::MissingFields {
                    fields: missing,
                    needed_for: format!("`{name}` {kind} into `{to}`"),
                });
            }
        }

        let mut patch = Record::new();
        patch.insert("approval".into(), Value::from(name));
        patch.insert("decision".into(), Value::from(decision.as_str()));
        patch.insert("comment".into(), comment.map_or(Value::Null, Value::from));
        let mut revision = inst.revision;
        let mut state = inst.state.clone();
        let mut prev_hash = events
            .last()
            .map_or(GENESIS.to_string(), |e| e.hash.clone());
        let mut moves = vec![(
            actor.clone(),
            KIND_DECISION,
            None,
            inst.state.clone(),
            patch,
        )];
        if let Some((kind, to)) = outcome {
            let mut patch = Record::new();
            patch.insert("approval".into(), Value::from(name));
            moves.push((
                Actor::new(SYSTEM_ACTOR, &[]),
                kind,
                Some(name),
                to.clone(),
                patch,
            ));
        }
        for (who, kind, transition, to, patch) in moves {
            let step = Step {
                actor: &who,
                kind,
                transition,
                from: &state,
                to: &to,
                patch: &patch,
            };
            let event = append_step(tx, id, revision, &inst.record, at, step, &prev_hash).await?;
            prev_hash = event.hash;
            revision += 1;
            state = to;
        }
        let mut record_after = None;
        if outcome.is_some() {
            let entered = Entered {
                id,
                seq: revision,
                state: &state,
                record: &record,
                created_at: &inst.created_at,
                at,
                before: Some(Before {
                    state: &inst.state,
                    record: &record,
                }),
                spawn_depth: 0,
            };
            let settled = self.on_entered(tx, &process, &entered).await?;
            revision = settled.revision;
            record_after = settled.record.as_ref().map(record_text);
        }
        let record = record_after.unwrap_or_else(|| inst.record.clone());
        let updated = InstanceRow {
            state,
            revision,
            record,
            updated_at: at.to_string(),
            ..inst
        };
        self.view_in(tx, &updated, &def).await
    }

    /// The transition `name` as fired by a person from `state`.
    fn transition<'p>(
        &self,
        process: &'p Process,
        state: &str,
        name: &str,
    ) -> Result<&'p Transition, RuntimeError> {
        let named: Vec<&Transition> = process
            .transitions
            .iter()
            .filter(|t| t.name == name)
            .collect();
        let allowed = || fireable_from(process, state);
        let Some(first) = named.first() else {
            return Err(RuntimeError::UnknownTransition {
                transition: name.to_string(),
                state: state.to_string(),
                allowed: allowed(),
            });
        };
        let Some(t) = named
            .iter()
            .find(|t| t.from.iter().any(|f| f == state))
            .copied()
        else {
            return Err(RuntimeError::NotAllowedFromState {
                transition: name.to_string(),
                state: state.to_string(),
                from: first.from.clone(),
                allowed: allowed(),
            });
        };
        if t.by.is_empty() {
            return Err(RuntimeError::AutomaticTransition {
                transition: name.to_string(),
                after: t.after.as_ref().map(describe_duration),
            });
        }
        Ok(t)
    }

    /// Evaluates a guard in the sandbox over the record after the patch
    /// (bound as [`script::guard_scope`] describes).
    pub(super) fn guard(
        &self,
        process: &Process,
        source: &str,
        record: &Record,
        actor: &Actor,
        inst: &InstanceRow,
    ) -> Result<bool, String> {
        let seen = script::GuardInstance {
            id: inst.id,
            process: &inst.process,
            state: &inst.state,
            revision: inst.revision,
            created_at: &inst.created_at,
        };
        script::eval_guard(
            &self.scripts,
            source,
            process,
            record,
            (&actor.id, &actor.roles),
            &seen,
        )
    }

    /// The SLA clocks of instance `id` as of `now`: status, target, elapsed
    /// and remaining business minutes, due time.
    pub async fn clocks(
        &self,
        id: i64,
        now: jiff::Timestamp,
    ) -> Result<Vec<ClockView>, RuntimeError> {
        let (def, rows) = in_tx!(&self.store, Mode::Read, |tx| {
            let inst = tx
                .instance(id)
                .await?
                .ok_or(RuntimeError::UnknownInstance { id })?;
            let def = self.definition_row(&mut tx, &inst).await?;
            (def, tx.clocks(id).await?)
        });
        let process = self.process_of(&def)?;
        clock::views(&process, &rows, now)
    }

    // ----------------------------------------------------------------- reads

    /// The instance as shown, with the instances it spawned or was spawned
    /// by and the escalations raised on it (read from its events).
    pub async fn show(&self, id: i64) -> Result<InstanceView, RuntimeError> {
        let view = in_tx!(&self.store, Mode::Read, |tx| {
            let inst = tx
                .instance(id)
                .await?
                .ok_or(RuntimeError::UnknownInstance { id })?;
            let def = self.definition_row(&mut tx, &inst).await?;
            let mut view = self.view_in(&mut tx, &inst, &def).await?;
            let events = tx.events(id).await?;
            let process = self.process_of(&def)?;
            view.spawned_by = super::spawn::spawned_by(&events);
            view.spawned = super::spawn::spawned(&events);
            view.escalations = super::escalation::raised(&process, &events);
            view
        });
        Ok(view)
    }

    /// The events of an instance, oldest first.
    pub async fn history(&self, id: i64) -> Result<Vec<EventView>, RuntimeError> {
        let events = in_tx!(&self.store, Mode::Read, |tx| {
            if tx.instance(id).await?.is_none() {
                return Err(RuntimeError::UnknownInstance { id });
            }
            tx.events(id).await?
        });
        events
            .into_iter()
            .map(|e| {
                let json = |text: &str, what: &str| {
                    serde_json::from_str::<Value>(text).map_err(|err| RuntimeError::Corrupt {
                        what: format!("{what} of event {} of instance {id}", e.seq),
                        reason: err.to_string(),
                    })
                };
                Ok(EventView {
                    seq: e.seq,
                    roles: json(&e.actor_roles, "roles")?,
                    patch: json(&e.patch, "patch")?,
                    at: e.at,
                    actor: e.actor,
                    kind: e.kind,
                    transition: e.transition,
                    from: e.from_state,
                    to: e.to_state,
                    prev_hash: e.prev_hash,
                    hash: e.hash,
                })
            })
            .collect()
    }

    /// Instances, optionally of one process and/or in one state, by id:
    /// at most `limit` of those with an id greater than `after` (keyset
    /// paging: pass the last id of a page to get the next one).
    pub async fn list(
        &self,
        process: Option<&str>,
        state: Option<&str>,
        limit: u32,
        after: Option<i64>,
    ) -> Result<Vec<InstanceSummary>, RuntimeError> {
        let after = after.unwrap_or(0);
        // No name holds a NUL (and PostgreSQL refuses one in a query).
        if process.into_iter().chain(state).any(|t| t.contains('\0')) {
            return Ok(Vec::new());
        }
        let list = in_tx!(&self.store, Mode::Read, |tx| {
            let rows = tx
                .list_instances(process, state, i64::from(limit), after)
                .await?;
            let mut versions: HashMap<i64, i64> = HashMap::new();
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let version = match versions.get(&r.definition_id) {
                    Some(v) => *v,
                    None => {
                        let v = tx
                            .definition(r.definition_id)
                            .await?
                            .map_or(0, |d| d.version);
                        versions.insert(r.definition_id, v);
                        v
                    }
                };
                out.push(InstanceSummary {
                    id: r.id,
                    definition_id: r.definition_id,
                    process: r.process,
                    version,
                    state: r.state,
                    revision: r.revision,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                });
            }
            out
        });
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_parse() {
        assert_eq!(
            Actor::parse("alice:service_desk,resolver"),
            Ok(Actor::new("alice", &["service_desk", "resolver"]))
        );
        assert_eq!(Actor::parse("bob"), Ok(Actor::new("bob", &[])));
        assert!(Actor::parse(":service_desk").is_err());
    }

    #[test]
    fn timestamps_sort_as_text() {
        let t = now();
        assert_eq!(t.len(), "2026-01-01T00:00:00.000000Z".len(), "{t}");
        assert!(t.ends_with('Z'));
    }
}
