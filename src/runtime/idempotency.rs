//! Idempotent writes: a client that retries a write (after a timeout, a
//! dropped connection) sends the same `Idempotency-Key` and gets the answer
//! of the first attempt instead of a second write.
//!
//! A key belongs to the actor that sent it (two actors' keys never meet).
//! It is claimed at the start of the write's transaction and its answer is
//! stored before that transaction commits, so a key is recorded exactly
//! when its write is: a refused or failed write leaves no key behind and a
//! retry is evaluated afresh. Two requests with one key at once queue on
//! the key's row (SQLite: the write lock; PostgreSQL: the unique index,
//! whose second insert waits for the first transaction), so the second
//! sees the first's answer. The key's `fingerprint` (what the request
//! asked: route and body) must match, else the request is refused: a key
//! is never reused for something else. Keys older than the retention are
//! forgotten by the tick; an older key found before that is treated as
//! new.

use super::engine::InstanceView;
use super::store::Tx;
use super::RuntimeError;

/// An idempotency key as the engine uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The key the client sent.
    pub key: String,
    /// What the request asked for (e.g. a hash of its route and body).
    pub fingerprint: String,
    /// A key recorded before this time (RFC 3339) has expired.
    pub not_before: String,
}

/// The answer of a write.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// The write happened now.
    Done(Box<InstanceView>),
    /// An earlier request with the same key wrote; its answer (JSON text).
    Replayed(String),
}

/// Claims `key` for `actor` in the write's transaction: `None` when the
/// write should go ahead (no key, or a new one), else the stored answer of
/// the earlier request. A key recorded for a different request is refused.
pub(super) async fn claim<T: Tx>(
    tx: &mut T,
    actor: &str,
    key: Option<&IdempotencyKey>,
    at: &str,
) -> Result<Option<Written>, RuntimeError> {
    let Some(key) = key else {
        return Ok(None);
    };
    // Twice at most: once more after dropping an expired row.
    for _ in 0..2 {
        if tx
            .claim_idempotency_key(actor, &key.key, &key.fingerprint, at)
            .await?
        {
            return Ok(None);
        }
        let Some(row) = tx.idempotency_key(actor, &key.key).await? else {
            continue;
        };
        if row.created_at.as_str() < key.not_before.as_str() {
            tx.delete_idempotency_key(actor, &key.key).await?;
            continue;
        }
        if row.fingerprint != key.fingerprint {
            return Err(RuntimeError::IdempotencyKeyReused {
                key: key.key.clone(),
            });
        }
        return match row.response {
            Some(body) => Ok(Some(Written::Replayed(body))),
            None => Err(RuntimeError::Corrupt {
                what: format!("idempotency key `{}` of `{actor}`", key.key),
                reason: "it has no stored answer".into(),
            }),
        };
    }
    Err(RuntimeError::Database {
        reason: format!("idempotency key `{}` could not be claimed", key.key),
    })
}

/// Stores the answer of the write that claimed `key` (nothing without a
/// key) and returns it.
pub(super) async fn complete<T: Tx>(
    tx: &mut T,
    actor: &str,
    key: Option<&IdempotencyKey>,
    view: InstanceView,
) -> Result<Written, RuntimeError> {
    if let Some(key) = key {
        let body = serde_json::to_string(&view).map_err(|e| RuntimeError::Corrupt {
            what: format!("the answer to idempotency key `{}`", key.key),
            reason: e.to_string(),
        })?;
        tx.complete_idempotency_key(actor, &key.key, &body).await?;
    }
    Ok(Written::Done(Box::new(view)))
}
