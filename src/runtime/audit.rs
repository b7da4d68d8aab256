//! The audit chain: every event carries the hash of the event before it
//! (per instance), and its own hash is SHA-256 over that previous hash and a
//! canonical JSON of the event. [`Engine::verify`] walks every instance and
//! reports the first break in each: an altered, deleted, inserted or
//! reordered event, or an instance whose stored state and record are not
//! what its events lead to.
//!
//! The canonical JSON is the event as an object with the keys `actor`,
//! `at`, `from`, `instance`, `kind`, `patch`, `roles`, `seq`, `to` and
//! `transition`, keys sorted at every level, no whitespace, strings and
//! numbers as serde_json writes them. The first event's previous hash is 64
//! zeros. The chain proves the history was not edited in place; whoever can
//! rewrite a whole chain *and* the instance row can still forge one, which
//! anchoring the latest hashes outside the database would catch.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::engine::{replay, Engine};
use super::error::RuntimeError;
use super::store::{EventRow, InstanceRow, Mode, Store, Tx};
use crate::ir::Process;

/// The previous hash of an instance's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// JSON with object keys sorted at every level and no whitespace.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(k) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// The hashed content of an event.
#[derive(Debug, Clone, Copy)]
pub struct EventContent<'a> {
    pub instance: i64,
    pub seq: i64,
    pub at: &'a str,
    pub actor: &'a str,
    pub roles: &'a Value,
    pub kind: &'a str,
    pub transition: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: &'a str,
    pub patch: &'a Value,
}

impl EventContent<'_> {
    pub fn to_json(&self) -> Value {
        json!({
            "instance": self.instance,
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "roles": self.roles,
            "kind": self.kind,
            "transition": self.transition,
            "from": self.from,
            "to": self.to,
            "patch": self.patch,
        })
    }

    /// SHA-256 (hex) over the previous hash and the canonical JSON.
    pub fn hash(&self, prev_hash: &str) -> String {
        let mut h = Sha256::new();
        h.update(prev_hash.as_bytes());
        h.update(canonical_json(&self.to_json()).as_bytes());
        hex::encode(h.finalize())
    }
}

/// The hash a stored event would have if it were written as `seq`, or why
/// its stored JSON cannot be read.
pub fn row_hash(e: &EventRow, seq: i64) -> Result<String, String> {
    let roles: Value = serde_json::from_str(&e.actor_roles)
        .map_err(|err| format!("its roles are not JSON ({err})"))?;
    let patch: Value =
        serde_json::from_str(&e.patch).map_err(|err| format!("its patch is not JSON ({err})"))?;
    Ok(EventContent {
        instance: e.instance_id,
        seq,
        at: &e.at,
        actor: &e.actor,
        roles: &roles,
        kind: &e.kind,
        transition: e.transition.as_deref(),
        from: e.from_state.as_deref(),
        to: &e.to_state,
        patch: &patch,
    }
    .hash(&e.prev_hash))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// An event's content no longer matches its hash.
    Altered,
    /// An event is missing from the history.
    Deleted,
    /// An event was added to the history.
    Inserted,
    /// Events are out of their written order.
    Reordered,
    /// An event does not follow the one before it, for a reason the chain
    /// alone cannot tell (e.g. the previous event was altered and re-hashed).
    BrokenLink,
    /// The stored state or record is not what the events lead to.
    StateMismatch,
    RecordMismatch,
    /// The history cannot be replayed on the instance's definition.
    Unreplayable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub instance: i64,
    pub process: String,
    /// The event at fault, when one is.
    pub seq: Option<i64>,
    pub kind: ProblemKind,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub instances: u64,
    pub events: u64,
    /// At most one per instance: the first break found.
    pub problems: Vec<Problem>,
}

/// How many instance ids one query fetches.
const BATCH: i64 = 500;

impl Engine {
    /// Verifies every instance's event chain and that its stored state and
    /// record are the fold of its events. Each instance is read in one
    /// snapshot, so concurrent writers cause no false alarms.
    pub async fn verify(&self) -> Result<VerifyReport, RuntimeError> {
        let mut report = VerifyReport {
            ok: true,
            instances: 0,
            events: 0,
            problems: Vec::new(),
        };
        let mut after = 0;
        loop {
            let ids = match self.store() {
                Store::Sqlite(pool) => {
                    let mut tx = Store::begin_sqlite(pool, Mode::Read).await?;
                    tx.instance_ids(after, BATCH).await?
                }
                Store::Postgres(pool) => {
                    let mut tx = Store::begin_pg(pool, Mode::Read).await?;
                    tx.instance_ids(after, BATCH).await?
                }
            };
            let Some(&last) = ids.last() else { break };
            after = last;
            for id in ids {
                let (events, problem) = match self.store() {
                    Store::Sqlite(pool) => {
                        let mut tx = Store::begin_sqlite(pool, Mode::Read).await?;
                        self.verify_one(&mut tx, id).await?
                    }
                    Store::Postgres(pool) => {
                        let mut tx = Store::begin_pg(pool, Mode::Read).await?;
                        self.verify_one(&mut tx, id).await?
                    }
                };
                report.instances += 1;
                report.events += events;
                report.problems.extend(problem);
            }
        }
        report.ok = report.problems.is_empty();
        Ok(report)
    }

    async fn verify_one<T: Tx>(
        &self,
        tx: &mut T,
        id: i64,
    ) -> Result<(u64, Option<Problem>), RuntimeError> {
        let Some(inst) = tx.instance(id).await? else {
            // Gone since the id was listed: nothing to verify.
            return Ok((0, None));
        };
        let events = tx.events(id).await?;
        let process = match tx.definition(inst.definition_id).await? {
            Some(def) => self.process_of(&def).ok(),
            None => None,
        };
        let problem = check_instance(&inst, &events, process.as_deref());
        Ok((events.len() as u64, problem))
    }
}

/// The first problem in one instance's history, if any.
pub fn check_instance(
    inst: &InstanceRow,
    events: &[EventRow],
    process: Option<&Process>,
) -> Option<Problem> {
    let problem = |seq: Option<i64>, kind: ProblemKind, message: String| {
        Some(Problem {
            instance: inst.id,
            process: inst.process.clone(),
            seq,
            kind,
            message,
        })
    };

    // The seq each event was written as: its own when its hash matches,
    // another when it was moved, none when its content was changed.
    let search_to = (events.len() as i64).max(inst.revision) + 2;
    let written_as: Vec<Option<i64>> = events
        .iter()
        .map(|e| match row_hash(e, e.seq) {
            Ok(h) if h == e.hash => Some(e.seq),
            Ok(_) => (1..=search_to)
                .filter(|s| *s != e.seq)
                .find(|s| row_hash(e, *s).is_ok_and(|h| h == e.hash)),
            Err(_) => None,
        })
        .collect();

    // A permutation of intact events: reordered.
    if written_as.iter().all(Option::is_some) {
        let mut written: Vec<i64> = written_as.iter().flatten().copied().collect();
        written.sort_unstable();
        let stored: Vec<i64> = events.iter().map(|e| e.seq).collect();
        if written == stored {
            let moved = events
                .iter()
                .zip(&written_as)
                .find(|(e, w)| **w != Some(e.seq));
            if let Some((e, Some(w))) = moved {
                return problem(
                    Some(e.seq),
                    ProblemKind::Reordered,
                    format!(
                        "event seq {} was written as seq {w}: the events were reordered",
                        e.seq
                    ),
                );
            }
        }
    }

    let mut expected = 1;
    let mut prev = GENESIS;
    for (e, w) in events.iter().zip(&written_as) {
        if e.seq > inst.revision {
            return problem(
                Some(e.seq),
                ProblemKind::Inserted,
                format!(
                    "event seq {} lies past the instance's revision {}: it was inserted",
                    e.seq, inst.revision
                ),
            );
        }
        if e.seq != expected {
            return problem(
                Some(expected),
                ProblemKind::Deleted,
                format!(
                    "event seq {expected} is missing (the history jumps to seq {}): it was deleted",
                    e.seq
                ),
            );
        }
        match w {
            None => {
                let why = match row_hash(e, e.seq) {
                    Err(reason) => reason,
                    Ok(_) => "its hash does not match its content".into(),
                };
                return problem(
                    Some(e.seq),
                    ProblemKind::Altered,
                    format!("event seq {} was altered: {why}", e.seq),
                );
            }
            Some(w) if *w < e.seq => {
                return problem(
                    Some(e.seq),
                    ProblemKind::Inserted,
                    format!(
                        "event seq {} was written as seq {w}: an event was inserted before it",
                        e.seq
                    ),
                );
            }
            Some(w) if *w > e.seq => {
                return problem(
                    Some(e.seq),
                    ProblemKind::Deleted,
                    format!(
                        "event seq {} was written as seq {w}: an event before it was deleted",
                        e.seq
                    ),
                );
            }
            Some(_) => {}
        }
        if e.prev_hash != prev {
            if let Some(other) = events.iter().find(|o| o.hash == e.prev_hash) {
                return problem(
                    Some(e.seq),
                    ProblemKind::Reordered,
                    format!(
                        "event seq {} follows seq {} instead of seq {}: the events were reordered",
                        e.seq,
                        other.seq,
                        e.seq - 1
                    ),
                );
            }
            return problem(
                Some(e.seq),
                ProblemKind::BrokenLink,
                format!(
                    "event seq {} does not follow {}: an event before it was altered and re-hashed, deleted or inserted",
                    e.seq,
                    if e.seq == 1 {
                        "the start of the chain".to_string()
                    } else {
                        format!("seq {}", e.seq - 1)
                    }
                ),
            );
        }
        prev = &e.hash;
        expected += 1;
    }
    let last = expected - 1;
    if last < inst.revision {
        return problem(
            Some(expected),
            ProblemKind::Deleted,
            format!(
                "event seq {expected} is missing: the instance is at revision {} but its history ends {}",
                inst.revision,
                if last == 0 {
                    "before it starts".to_string()
                } else {
                    format!("at seq {last}")
                }
            ),
        );
    }

    let Some(process) = process else {
        return problem(
            None,
            ProblemKind::Unreplayable,
            format!(
                "its definition (id {}) is missing or unreadable",
                inst.definition_id
            ),
        );
    };
    let (state, record) = match replay(process, events) {
        Ok(folded) => folded,
        Err((seq, why)) => {
            return problem(
                Some(seq),
                ProblemKind::Unreplayable,
                format!("event seq {seq} cannot be replayed: {why}"),
            )
        }
    };
    if state != inst.state {
        return problem(
            Some(last),
            ProblemKind::StateMismatch,
            format!(
                "the stored state `{}` differs from `{state}`, where its events up to seq {last} lead",
                inst.state
            ),
        );
    }
    let stored: Value = serde_json::from_str(&inst.record).unwrap_or(Value::Null);
    let folded = Value::Object(record);
    if stored != folded {
        let mut fields: Vec<String> = Vec::new();
        if let (Value::Object(a), Value::Object(b)) = (&stored, &folded) {
            for k in a.keys().chain(b.keys()) {
                if a.get(k) != b.get(k) && !fields.contains(k) {
                    fields.push(k.clone());
                }
            }
        }
        let what = if fields.is_empty() {
            "the stored record is not a JSON object".to_string()
        } else {
            format!(
                "the stored record differs in {} from what its events up to seq {last} lead to",
                fields
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return problem(Some(last), ProblemKind::RecordMismatch, what);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = json!({"b": 1, "a": {"d": [true, null], "c": "x\"y"}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":"x\"y","d":[true,null]},"b":1}"#
        );
    }

    #[test]
    fn the_hash_covers_the_previous_hash_and_the_seq() {
        let roles = json!(["r"]);
        let patch = json!({"a": 1});
        let c = EventContent {
            instance: 1,
            seq: 1,
            at: "2026-01-01T00:00:00.000000Z",
            actor: "alice",
            roles: &roles,
            kind: "start",
            transition: None,
            from: None,
            to: "open",
            patch: &patch,
        };
        let h = c.hash(GENESIS);
        assert_eq!(h.len(), 64);
        assert_ne!(h, c.hash(&"1".repeat(64)));
        assert_ne!(h, EventContent { seq: 2, ..c }.hash(GENESIS));
    }
}
