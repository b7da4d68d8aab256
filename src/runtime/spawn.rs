//! Linked instances: `spawn P on enter S [link F] [when G]`.
//!
//! Entering `S` (and `G` holding on the record after the step) starts an
//! instance of `P`'s active definition in the same transaction, as
//! [`SPAWN_ACTOR`], through the normal start path (record check, defaults,
//! timers, clocks, notifications, its own spawns) minus the `started by`
//! check: the definition, not a person, asked for it. The new record holds
//! the spawning record's fields of the same name and type (E0410 makes sure
//! they cover what `P` needs; `log` fields are not copied).
//!
//! Both sides keep the link in their hash chain. The child's `start` event
//! names its spawner under [`SPAWNED_BY`]; the spawning instance gets a
//! `spawn` event that names the child under [`SPAWNED`] and sets `F` to its
//! id. `$` keys are never field names, so [`super::engine::replay`] drops
//! them and `state == fold(events)` holds.
//!
//! Anything that refuses the child's start refuses the whole step
//! ([`RuntimeError::SpawnRefused`]); definitions that spawn each other in a
//! cycle stop at [`MAX_SPAWN_DEPTH`] ([`RuntimeError::SpawnTooDeep`]).

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use serde_json::{json, Value};

use super::effects::{Entered, Settled};
use super::engine::{append_step, chain_head, record_text, Actor, Engine, Step};
use super::error::RuntimeError;
use super::store::{DefinitionRow, EventRow, InstanceRow, Tx};
use super::values::{self, Record};
use crate::ir::{FieldType, Process, Spawn};

/// Kind of the event that records a spawn on the spawning instance.
pub const KIND_SPAWN: &str = "spawn";
/// The actor spawned instances are started as, and spawn events recorded by.
pub const SPAWN_ACTOR: &str = "system:spawn";
/// How many spawns one step may set off in a chain (a spawned instance
/// spawning in turn counts one more).
pub const MAX_SPAWN_DEPTH: usize = 8;
/// Start-event patch key naming the spawning instance.
pub const SPAWNED_BY: &str = "$spawned_by";
/// Spawn-event patch key naming the spawned instance.
pub const SPAWNED: &str = "$spawned";

/// One end of a spawn link, as `instance show` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Link)]
pub struct LinkView {
    pub process: String,
    pub instance: i64,
    /// The event of the shown instance that records the link.
    pub seq: i64,
    pub at: String,
    /// The `link` field that holds the spawned instance's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

type Started<'a> = Pin<Box<dyn Future<Output = Result<InstanceRow, RuntimeError>> + Send + 'a>>;

impl Engine {
    /// Spawns what entering `e.state` spawns, in declaration order, and
    /// appends one `spawn` event per spawned instance.
    pub(super) async fn spawn_on_entry<T: Tx>(
        &self,
        tx: &mut T,
        process: &Process,
        e: &Entered<'_>,
        settled: &mut Settled,
    ) -> Result<(), RuntimeError> {
        for spawn in &process.spawns {
            if !spawn.states.iter().any(|s| s == e.state) {
                continue;
            }
            let record = settled.record(e);
            if let Some(guard) = &spawn.guard {
                let inst = InstanceRow {
                    id: e.id,
                    process: process.name.clone(),
                    definition_id: 0,
                    state: e.state.to_string(),
                    record: String::new(),
                    revision: settled.revision,
                    created_at: e.created_at.to_string(),
                    updated_at: e.at.to_string(),
                };
                let actor = Actor::new(SPAWN_ACTOR, &[]);
                match self.guard(process, guard, record, &actor, &inst) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(reason) => {
                        return Err(RuntimeError::SpawnGuardFailed {
                            process: process.name.clone(),
                            state: e.state.to_string(),
                            spawned: spawn.process.clone(),
                            guard: guard.clone(),
                            reason,
                        })
                    }
                }
            }
            if e.spawn_depth >= MAX_SPAWN_DEPTH {
                let mut chain = lineage(tx, e.id, &process.name).await?;
                chain.push(spawn.process.clone());
                return Err(RuntimeError::SpawnTooDeep {
                    chain,
                    limit: MAX_SPAWN_DEPTH,
                });
            }
            let refused = |reason: RuntimeError| wrap(process, e, spawn, reason);
            let (def, child) = self.active(tx, &spawn.process).await.map_err(refused)?;
            let fields = Value::Object(inherited(process, &child, record));
            let origin = json!({ "process": process.name, "instance": e.id });
            let started = self
                .start_spawned(tx, &def, &child, fields, e.at, origin, e.spawn_depth + 1)
                .await
                .map_err(refused)?;

            let mut next = settled.record(e).clone();
            let mut patch = Record::new();
            if let Some(field) = &spawn.link {
                patch.insert(field.clone(), Value::from(started.id));
                values::apply_patch(process, &mut next, &patch);
            }
            patch.insert(
                SPAWNED.into(),
                json!({ "process": spawn.process, "instance": started.id }),
            );
            let prev_hash = chain_head(tx, e.id).await?;
            let step = Step {
                actor: &Actor::new(SPAWN_ACTOR, &[]),
                kind: KIND_SPAWN,
                transition: None,
                from: e.state,
                to: e.state,
                patch: &patch,
            };
            let text = record_text(&next);
            append_step(tx, e.id, settled.revision, &text, e.at, step, &prev_hash).await?;
            settled.revision += 1;
            if spawn.link.is_some() {
                settled.record = Some(next);
            }
        }
        Ok(())
    }

    /// The child's start, boxed: starting may spawn again, and an async
    /// call cycle needs one indirection.
    #[allow(clippy::too_many_arguments)]
    fn start_spawned<'a, T: Tx>(
        &'a self,
        tx: &'a mut T,
        def: &'a DefinitionRow,
        child: &'a Process,
        fields: Value,
        at: &'a str,
        origin: Value,
        depth: usize,
    ) -> Started<'a> {
        Box::pin(async move {
            let actor = Actor::new(SPAWN_ACTOR, &[]);
            self.start_checked(tx, def, child, &actor, &fields, at, Some(origin), depth)
                .await
        })
    }
}

/// A refusal of the child's start as a refusal of the step; failures (the
/// database) and refusals already explained by a deeper spawn pass as they
/// are.
fn wrap(process: &Process, e: &Entered<'_>, spawn: &Spawn, reason: RuntimeError) -> RuntimeError {
    if !reason.is_refusal()
        || matches!(
            reason,
            RuntimeError::SpawnRefused { .. }
                | RuntimeError::SpawnTooDeep { .. }
                | RuntimeError::SpawnGuardFailed { .. }
        )
    {
        return reason;
    }
    RuntimeError::SpawnRefused {
        process: process.name.clone(),
        // A step at seq 1 is a start: that instance is rolled back too.
        instance: (e.seq > 1).then_some(e.id),
        state: e.state.to_string(),
        spawned: spawn.process.clone(),
        reason: Box::new(reason),
    }
}

/// The fields of `record` that `child`'s record declares with the same
/// name and type (not derived there, not logs).
fn inherited(parent: &Process, child: &Process, record: &Record) -> Record {
    let mut out = Record::new();
    for f in &child.record.fields {
        if f.derived.is_some() || f.ty == FieldType::Log || !values::is_set(record, &f.name) {
            continue;
        }
        let same = parent
            .record
            .fields
            .iter()
            .any(|p| p.name == f.name && p.ty == f.ty);
        if let (true, Some(v)) = (same, record.get(&f.name)) {
            out.insert(f.name.clone(), v.clone());
        }
    }
    out
}

/// The processes that spawned instance `id`, oldest first, ending with
/// `process` (for the depth error; read from the start events).
async fn lineage<T: Tx>(tx: &mut T, id: i64, process: &str) -> Result<Vec<String>, RuntimeError> {
    let mut chain = vec![process.to_string()];
    let mut current = id;
    for _ in 0..=MAX_SPAWN_DEPTH {
        let Some(start) = tx.event(current, 1).await? else {
            break;
        };
        let Some((parent, parent_id)) = origin(&start, SPAWNED_BY) else {
            break;
        };
        chain.insert(0, parent);
        current = parent_id;
    }
    Ok(chain)
}

/// Who asked for instance `id` (the notification role `requester`): the
/// actor who started it, or, for an instance a spawn started, the requester
/// of the instance that spawned it (a problem spawned by an incident
/// answers to whoever raised the incident, not to `system:spawn`).
pub(crate) async fn requester<T: Tx>(tx: &mut T, id: i64) -> Result<String, RuntimeError> {
    let mut current = id;
    let mut actor = String::new();
    for _ in 0..=MAX_SPAWN_DEPTH {
        let Some(start) = tx.event(current, 1).await? else {
            break;
        };
        actor = start.actor.clone();
        match origin(&start, SPAWNED_BY) {
            Some((_, parent)) if start.actor == SPAWN_ACTOR => current = parent,
            _ => break,
        }
    }
    Ok(actor)
}

/// The `{process, instance}` under `key` in an event's patch.
fn origin(e: &EventRow, key: &str) -> Option<(String, i64)> {
    let patch: Value = serde_json::from_str(&e.patch).ok()?;
    let link = patch.get(key)?;
    Some((
        link.get("process")?.as_str()?.to_string(),
        link.get("instance")?.as_i64()?,
    ))
}

/// The instance that spawned the one whose `events` these are.
pub fn spawned_by(events: &[EventRow]) -> Option<LinkView> {
    let start = events.first().filter(|e| e.kind == "start")?;
    let (process, instance) = origin(start, SPAWNED_BY)?;
    Some(LinkView {
        process,
        instance,
        seq: start.seq,
        at: start.at.clone(),
        field: None,
    })
}

/// The instances spawned by the one whose `events` these are.
pub fn spawned(events: &[EventRow]) -> Vec<LinkView> {
    events
        .iter()
        .filter(|e| e.kind == KIND_SPAWN)
        .filter_map(|e| {
            let (process, instance) = origin(e, SPAWNED)?;
            let patch: Value = serde_json::from_str(&e.patch).ok()?;
            let field = patch
                .as_object()?
                .keys()
                .find(|k| !k.starts_with('$'))
                .cloned();
            Some(LinkView {
                process,
                instance,
                seq: e.seq,
                at: e.at.clone(),
                field,
            })
        })
        .collect()
}

/// Checks a `spawn` event against the definition, for replay: a spawn of
/// the named process on entering `state`, setting at most its `link` field.
pub fn check_event(process: &Process, state: &str, e: &EventRow) -> Result<(), String> {
    let (spawned, _) = origin(e, SPAWNED).ok_or_else(|| {
        format!("the spawn event does not name the spawned instance (`{SPAWNED}`)")
    })?;
    let patch: Value = serde_json::from_str(&e.patch).unwrap_or(Value::Null);
    let fields: Vec<&String> = patch
        .as_object()
        .map(|p| p.keys().filter(|k| !k.starts_with('$')).collect())
        .unwrap_or_default();
    let declared = process.spawns.iter().any(|s| {
        s.process == spawned
            && s.states.iter().any(|st| st == state)
            && fields.iter().all(|f| s.link.as_deref() == Some(f.as_str()))
    });
    if declared {
        Ok(())
    } else {
        Err(format!(
            "the process does not spawn `{spawned}` on entering `{state}` setting {}",
            if fields.is_empty() {
                "nothing".to_string()
            } else {
                fields
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))
    }
}
