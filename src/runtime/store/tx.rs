//! One transaction on either backend. The SQL is the same for both (both
//! accept `$N` parameters); a macro writes the two implementations.

use std::future::Future;

use sqlx::{AssertSqlSafe, Postgres, Row, Sqlite, Transaction};

use super::{
    Advance, ApprovalTimeoutRow, ChainedInstance, ClockRow, DefinitionRow, EventRow,
    IdempotencyRow, InstanceRow, OutboxRow, ScheduleRow, Store, TimerRow,
};
use crate::runtime::error::RuntimeError;

type R<T> = Result<T, RuntimeError>;

/// The queries the engine and the audit run inside one transaction.
pub(crate) trait Tx: Send {
    fn active_definition(
        &mut self,
        process: &str,
    ) -> impl Future<Output = R<Option<DefinitionRow>>> + Send;
    fn definition(&mut self, id: i64) -> impl Future<Output = R<Option<DefinitionRow>>> + Send;
    fn definition_by_hash(
        &mut self,
        process: &str,
        hash: &str,
    ) -> impl Future<Output = R<Option<DefinitionRow>>> + Send;
    fn deployed_processes(&mut self) -> impl Future<Output = R<Vec<String>>> + Send;
    fn max_version(&mut self, process: &str) -> impl Future<Output = R<i64>> + Send;
    fn deactivate(&mut self, process: &str) -> impl Future<Output = R<()>> + Send;
    fn activate(&mut self, id: i64) -> impl Future<Output = R<()>> + Send;
    fn insert_definition(
        &mut self,
        process: &str,
        version: i64,
        hash: &str,
        ir: &str,
        at: &str,
    ) -> impl Future<Output = R<i64>> + Send;

    fn instance(&mut self, id: i64) -> impl Future<Output = R<Option<InstanceRow>>> + Send;
    fn instance_process(&mut self, id: i64) -> impl Future<Output = R<Option<String>>> + Send;
    fn insert_instance(
        &mut self,
        process: &str,
        definition_id: i64,
        state: &str,
        record: &str,
        at: &str,
    ) -> impl Future<Output = R<i64>> + Send;
    /// Moves an instance from `revision` to `revision + 1`; `false` when it
    /// is no longer at `revision` (a concurrent writer won).
    fn update_instance(
        &mut self,
        id: i64,
        revision: i64,
        state: &str,
        record: &str,
        at: &str,
    ) -> impl Future<Output = R<bool>> + Send;
    /// Instances with an id greater than `after` (keyset paging), optionally
    /// of one process and/or in one state, ascending by id, at most `limit`.
    fn list_instances(
        &mut self,
        process: Option<&str>,
        state: Option<&str>,
        limit: i64,
        after: i64,
    ) -> impl Future<Output = R<Vec<InstanceRow>>> + Send;
    /// Instance ids greater than `after`, ascending, at most `limit`.
    fn instance_ids(&mut self, after: i64, limit: i64) -> impl Future<Output = R<Vec<i64>>> + Send;

    fn insert_event(&mut self, event: &EventRow) -> impl Future<Output = R<()>> + Send;
    /// Events of an instance in `seq` order.
    fn events(&mut self, instance_id: i64) -> impl Future<Output = R<Vec<EventRow>>> + Send;
    fn last_event(&mut self, instance_id: i64) -> impl Future<Output = R<Option<EventRow>>> + Send;

    /// The event `seq` of an instance.
    fn event(
        &mut self,
        instance_id: i64,
        seq: i64,
    ) -> impl Future<Output = R<Option<EventRow>>> + Send;

    fn insert_timer(&mut self, timer: &TimerRow) -> impl Future<Output = R<()>> + Send;
    /// Deletes every timer of an instance (it leaves its state).
    fn delete_timers(&mut self, instance_id: i64) -> impl Future<Output = R<()>> + Send;
    fn delete_timer(
        &mut self,
        instance_id: i64,
        transition: &str,
    ) -> impl Future<Output = R<()>> + Send;
    /// The SLA clocks of an instance, by SLA name.
    fn clocks(&mut self, instance_id: i64) -> impl Future<Output = R<Vec<ClockRow>>> + Send;
    /// Inserts or replaces the clock (instance, SLA).
    fn put_clock(&mut self, clock: &ClockRow) -> impl Future<Output = R<()>> + Send;
    /// Inserts a notification unless the one for the same (instance,
    /// event, kind, role) exists; `true` when inserted.
    fn insert_outbox(&mut self, row: &OutboxRow) -> impl Future<Output = R<bool>> + Send;
    /// The outbox in id order, only unsent rows with `pending_only`.
    fn outbox(&mut self, pending_only: bool) -> impl Future<Output = R<Vec<OutboxRow>>> + Send;

    fn commit(self) -> impl Future<Output = R<()>> + Send;

    /// Breached SLA clocks across instances, ordered by (instance, SLA),
    /// after the key `after` (keyset paging), at most `limit`. A breached
    /// clock has no `due_at` any more (see `clock::breach`), so the key is
    /// the clock's primary key.
    fn breached_clocks(
        &mut self,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> impl Future<Output = R<Vec<ClockRow>>> + Send;

    /// The instance with the hash of its latest event (the chain head a
    /// new event links to), in one round trip: the write path's read.
    fn instance_with_head(
        &mut self,
        id: i64,
    ) -> impl Future<Output = R<Option<(InstanceRow, Option<String>)>>> + Send;
    /// Marks where one item of a batch starts: a failing item is undone by
    /// [`Tx::rollback_to_savepoint`] without losing the others.
    fn savepoint(&mut self) -> impl Future<Output = R<()>> + Send;
    /// Keeps what the item wrote since [`Tx::savepoint`].
    fn release_savepoint(&mut self) -> impl Future<Output = R<()>> + Send;
    /// Undoes what the item wrote since [`Tx::savepoint`].
    fn rollback_to_savepoint(&mut self) -> impl Future<Output = R<()>> + Send;

    /// At most `limit` timers due at `now`, earliest first, claimed for this
    /// transaction (on PostgreSQL, skipping rows another one has claimed).
    fn claim_due_timers(
        &mut self,
        now: &str,
        limit: i64,
    ) -> impl Future<Output = R<Vec<TimerRow>>> + Send;
    /// At most `limit` clocks due at `now`, claimed like timers.
    fn claim_due_clocks(
        &mut self,
        now: &str,
        limit: i64,
    ) -> impl Future<Output = R<Vec<ClockRow>>> + Send;

    /// The approval timeouts of an instance, by approval name.
    fn approval_timeouts(
        &mut self,
        instance_id: i64,
    ) -> impl Future<Output = R<Vec<ApprovalTimeoutRow>>> + Send;
    /// Inserts or replaces the timeout (instance, approval).
    fn put_approval_timeout(
        &mut self,
        row: &ApprovalTimeoutRow,
    ) -> impl Future<Output = R<()>> + Send;
    fn delete_approval_timeout(
        &mut self,
        instance_id: i64,
        approval: &str,
    ) -> impl Future<Output = R<()>> + Send;
    /// At most `limit` approval timeouts due at `now`, claimed like timers.
    fn claim_due_approval_timeouts(
        &mut self,
        now: &str,
        limit: i64,
    ) -> impl Future<Output = R<Vec<ApprovalTimeoutRow>>> + Send;

    fn schedule(&mut self, process: &str) -> impl Future<Output = R<Option<ScheduleRow>>> + Send;
    /// Inserts or replaces the schedule of a process.
    fn put_schedule(&mut self, row: &ScheduleRow) -> impl Future<Output = R<()>> + Send;
    fn delete_schedule(&mut self, process: &str) -> impl Future<Output = R<()>> + Send;
    /// At most `limit` schedules due at `now`, claimed like timers.
    fn claim_due_schedules(
        &mut self,
        now: &str,
        limit: i64,
    ) -> impl Future<Output = R<Vec<ScheduleRow>>> + Send;
    /// The instances `ids` with their chain heads and requesters, in one
    /// query (a tick batch reads all it needs at once).
    fn chained_instances(
        &mut self,
        ids: &[i64],
    ) -> impl Future<Output = R<Vec<ChainedInstance>>> + Send;
    /// Moves each instance from revision `from` to `to` at `at` (state and
    /// record unchanged) unless it moved meanwhile; returns how many moved.
    fn advance_instances(
        &mut self,
        moves: &[Advance],
        at: &str,
    ) -> impl Future<Output = R<u64>> + Send;
    /// Appends many events; a seq taken by another writer is a conflict.
    fn insert_events(&mut self, events: &[EventRow]) -> impl Future<Output = R<()>> + Send;
    /// Inserts or replaces many clocks (distinct (instance, SLA) pairs).
    fn put_clocks(&mut self, clocks: &[ClockRow]) -> impl Future<Output = R<()>> + Send;
    /// Inserts many notifications, skipping those that exist (see
    /// [`Tx::insert_outbox`]).
    fn insert_outboxes(&mut self, rows: &[OutboxRow]) -> impl Future<Output = R<()>> + Send;

    /// Records `key` of `actor` unless it is recorded (then waits for the
    /// transaction that recorded it); `true` when this call recorded it.
    fn claim_idempotency_key(
        &mut self,
        actor: &str,
        key: &str,
        fingerprint: &str,
        at: &str,
    ) -> impl Future<Output = R<bool>> + Send;
    fn idempotency_key(
        &mut self,
        actor: &str,
        key: &str,
    ) -> impl Future<Output = R<Option<IdempotencyRow>>> + Send;
    /// Stores the answer of the write that claimed the key.
    fn complete_idempotency_key(
        &mut self,
        actor: &str,
        key: &str,
        response: &str,
    ) -> impl Future<Output = R<()>> + Send;
    fn delete_idempotency_key(
        &mut self,
        actor: &str,
        key: &str,
    ) -> impl Future<Output = R<()>> + Send;
    /// Deletes the keys recorded before `before`; how many.
    fn expire_idempotency_keys(&mut self, before: &str) -> impl Future<Output = R<u64>> + Send;
}

pub(crate) struct SqliteTx(pub Transaction<'static, Sqlite>);
pub(crate) struct PgTx(pub Transaction<'static, Postgres>);

/// Whether a transaction writes. SQLite write transactions take the write
/// lock at `BEGIN` (`IMMEDIATE`) so that two writers queue instead of
/// failing when the second upgrades its read lock; PostgreSQL reads run at
/// `REPEATABLE READ` so that one instance and its events are one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Read,
    Write,
}

impl Store {
    pub(crate) async fn begin_sqlite(pool: &sqlx::SqlitePool, mode: Mode) -> R<SqliteTx> {
        let tx = match mode {
            Mode::Write => pool.begin_with("BEGIN IMMEDIATE").await?,
            Mode::Read => pool.begin().await?,
        };
        Ok(SqliteTx(tx))
    }

    pub(crate) async fn begin_pg(pool: &sqlx::PgPool, mode: Mode) -> R<PgTx> {
        let tx = match mode {
            Mode::Write => pool.begin().await?,
            Mode::Read => {
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        };
        Ok(PgTx(tx))
    }
}

/// `(… ), (… )`: `rows` tuples of `width` placeholders numbered from
/// `first`; with width 1, one parenthesised list `($1, $2, …)`.
fn placeholders(rows: usize, width: usize, first: usize) -> String {
    if width == 1 {
        let list: Vec<String> = (0..rows).map(|i| format!("${}", first + i)).collect();
        return format!("({})", list.join(", "));
    }
    (0..rows)
        .map(|r| {
            let cols: Vec<String> = (0..width)
                .map(|c| format!("${}", first + r * width + c))
                .collect();
            format!("({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

macro_rules! clock_columns {
    () => {
        "instance_id, sla, status, started_at, wall_us, business_us, business, \
         segment_started_at, target, due_at, warn_at, warned, breached"
    };
}

macro_rules! impl_tx {
    ($ty:ty, $row:ty, $lock:literal, $bulk_rows:literal) => {
        impl $ty {
            /// A row as its `FromRow` type (columns by name).
            fn decode<T: for<'r> sqlx::FromRow<'r, $row>>(row: &$row) -> R<T> {
                Ok(T::from_row(row)?)
            }


            fn clock_row(r: &$row) -> R<ClockRow> {
                Ok(ClockRow {
                    instance_id: r.try_get("instance_id")?,
                    sla: r.try_get("sla")?,
                    status: r.try_get("status")?,
                    started_at: r.try_get("started_at")?,
                    wall_us: r.try_get("wall_us")?,
                    business_us: r.try_get("business_us")?,
                    business: r.try_get::<i64, _>("business")? != 0,
                    segment_started_at: r.try_get("segment_started_at")?,
                    target: r.try_get("target")?,
                    due_at: r.try_get("due_at")?,
                    warn_at: r.try_get("warn_at")?,
                    warned: r.try_get("warned")?,
                    breached: r.try_get::<i64, _>("breached")? != 0,
                })
            }



        }

        impl Tx for $ty {
            async fn active_definition(&mut self, process: &str) -> R<Option<DefinitionRow>> {
                let row = sqlx::query(
                    "SELECT id, process, version, hash, ir, active, deployed_at \
                     FROM definitions WHERE process = $1 AND active",
                )
                .bind(process)
                .fetch_optional(&mut *self.0)
                .await?;
                row.as_ref().map(Self::decode).transpose()
            }

            async fn definition(&mut self, id: i64) -> R<Option<DefinitionRow>> {
                let row = sqlx::query(
                    "SELECT id, process, version, hash, ir, active, deployed_at \
                     FROM definitions WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *self.0)
                .await?;
                row.as_ref().map(Self::decode).transpose()
            }

            async fn definition_by_hash(
                &mut self,
                process: &str,
                hash: &str,
            ) -> R<Option<DefinitionRow>> {
                let row = sqlx::query(
                    "SELECT id, process, version, hash, ir, active, deployed_at \
                     FROM definitions WHERE process = $1 AND hash = $2",
                )
                .bind(process)
                .bind(hash)
                .fetch_optional(&mut *self.0)
                .await?;
                row.as_ref().map(Self::decode).transpose()
            }

            async fn deployed_processes(&mut self) -> R<Vec<String>> {
                let rows = sqlx::query(
                    "SELECT process FROM definitions WHERE active ORDER BY process",
                )
                .fetch_all(&mut *self.0)
                .await?;
                rows.iter()
                    .map(|r| r.try_get("process").map_err(RuntimeError::from))
                    .collect()
            }

            async fn max_version(&mut self, process: &str) -> R<i64> {
                let row = sqlx::query(
                    "SELECT COALESCE(MAX(version), 0) AS v FROM definitions WHERE process = $1",
                )
                .bind(process)
                .fetch_one(&mut *self.0)
                .await?;
                Ok(row.try_get("v")?)
            }

            async fn deactivate(&mut self, process: &str) -> R<()> {
                sqlx::query("UPDATE definitions SET active = FALSE WHERE process = $1 AND active")
                    .bind(process)
                    .execute(&mut *self.0)
                    .await?;
                Ok(())
            }

            async fn activate(&mut self, id: i64) -> R<()> {
                sqlx::query("UPDATE definitions SET active = TRUE WHERE id = $1")
                    .bind(id)
                    .execute(&mut *self.0)
                    .await?;
                Ok(())
            }

            async fn insert_definition(
                &mut self,
                process: &str,
                version: i64,
                hash: &str,
                ir: &str,
                at: &str,
            ) -> R<i64> {
                let row = sqlx::query(
                    "INSERT INTO definitions (process, version, hash, ir, active, deployed_at) \
                     VALUES ($1, $2, $3, $4, TRUE, $5) RETURNING id",
                )
                .bind(process)
                .bind(version)
                .bind(hash)
                .bind(ir)
                .bind(at)
                .fetch_one(&mut *self.0)
                .await?;
                Ok(row.try_get("id")?)
            }

            async fn instance(&mut self, id: i64) -> R<Option<InstanceRow>> {
                let row = sqlx::query(
                    "SELECT id, process, definition_id, state, record, revision, created_at, \
                     updated_at FROM instances WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *self.0)
                .await?;
                row.as_ref().map(Self::decode).transpose()
            }

            async fn instance_process(&mut self, id: i64) -> R<Option<String>> {
                let row = sqlx::query("SELECT process FROM instances WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *self.0)
                    .await?;
                Ok(row.map(|r| r.try_get("process")).transpose()?)
            }

            async fn insert_instance(
                &mut self,
                process: &str,
                definition_id: i64,
                state: &str,
                record: &str,
                at: &str,
            ) -> R<i64> {
                let row = sqlx::query(
                    "INSERT INTO instances \
                     (process, definition_id, state, record, revision, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING id",
                )
                .bind(process)
                .bind(definition_id)
                .bind(state)
                .bind(record)
                .bind(at)
                .fetch_one(&mut *self.0)
                .await?;
                Ok(row.try_get("id")?)
            }

            async fn update_instance(
                &mut self,
                id: i64,
                revision: i64,
                state: &str,
                record: &str,
                at: &str,
            ) -> R<bool> {
                let done = sqlx::query(
                    "UPDATE instances SET state = $1, record = $2, revision = revision + 1, \
                     updated_at = $3 WHERE id = $4 AND revision = $5",
                )
                .bind(state)
                .bind(record)
                .bind(at)
                .bind(id)
                .bind(revision)
                .execute(&mut *self.0)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_instances(
                &mut self,
                process: Option<&str>,
                state: Option<&str>,
                limit: i64,
                after: i64,
            ) -> R<Vec<InstanceRow>> {
                let rows = sqlx::query(
                    "SELECT id, process, definition_id, state, record, revision, created_at, \
                     updated_at FROM instances \
                     WHERE id > $3 AND ($1 IS NULL OR process = $1) AND ($2 IS NULL OR state = $2) \
                     ORDER BY id LIMIT $4",
                )
                .bind(process)
                .bind(state)
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *self.0)
                .await?;
                rows.iter().map(Self::decode).collect()
            }

            async fn instance_ids(&mut self, after: i64, limit: i64) -> R<Vec<i64>> {
                let rows = sqlx::query("SELECT id FROM instances WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&mut *self.0)
                    .await?;
                rows.iter()
                    .map(|r| r.try_get("id").map_err(RuntimeError::from))
                    .collect()
            }

            async fn insert_event(&mut self, e: &EventRow) -> R<()> {
                sqlx::query(
                    "INSERT INTO events (instance_id, seq, at, actor, actor_roles, kind, \
                     transition, from_state, to_state, patch, prev_hash, hash) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(e.instance_id)
                .bind(e.seq)
                .bind(&e.at)
                .bind(&e.actor)
                .bind(&e.actor_roles)
                .bind(&e.kind)
                .bind(&e.transition)
                .bind(&e.from_state)
                .bind(&e.to_state)
                .bind(&e.patch)
                .bind(&e.prev_hash)
                .bind(&e.hash)
                .execute(&mut *self.0)
                .await
                .map_err(|err| match &err {
                    // Another writer appended this seq first: it won.
                    sqlx::Error::Database(db) if db.is_unique_violation() => {
                        RuntimeError::Conflict {
                            id: e.instance_id,
                            expected: e.seq - 1,
                            actual: None,
                        }
                    }
                    _ => RuntimeError::from(err),
                })?;
                Ok(())
            }

            async fn events(&mut self, instance_id: i64) -> R<Vec<EventRow>> {
                let rows = sqlx::query(
                    "SELECT instance_id, seq, at, actor, actor_roles, kind, transition, \
                     from_state, to_state, patch, prev_hash, hash FROM events \
                     WHERE instance_id = $1 ORDER BY seq",
                )
                .bind(instance_id)
                .fetch_all(&mut *self.0)
                .await?;
                rows.iter().map(Self::decode).collect()
            }

            async fn last_event(&mut self, instance_id: i64) -> R<Option<EventRow>> {
                let row = sqlx::query(
                    "SELECT instance_id, seq, at, actor, actor_roles, kind, transition, \
                     from_state, to_state, patch, prev_hash, hash FROM events \
                     WHERE instance_id = $1 ORDER BY seq DESC LIMIT 1",
                )
                .bind(instance_id)
                .fetch_optional(&mut *self.0)
                .await?;
                row.as_ref().map(Self::decode).transpose()
            }

            async fn event(&mut self, instance_id: i64, seq: i64) -> R<Option<EventRow>> {
                let row = sqlx::query(
                    "SELECT instance_id, seq, at, actor, actor_roles, kind, transition, \
                     from_state, to_state, patch, prev_hash, hash FROM events \
                     WHERE instance_id = $1 AND seq = $2",
                )
                .bind(instance_id)
                .bind(seq)
                .fetch_optional(&mut *self.0)
                .await?;
                row.as_ref().map(Self::decode).transpose()
            }

            async fn insert_timer(&mut self, t: &TimerRow) -> R<()> {
                sqlx::query(
                    "INSERT INTO timers (instance_id, transition, due_at, entered_seq) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(t.instance_id)
                .bind(&t.transition)
                .bind(&t.due_at)
                .bind(t.entered_seq)
                .execute(&mut *self.0)
                .await?;
                Ok(())
            }

            async fn delete_timers(&mut self, instance_id: i64) -> R<()> {
                sqlx::query("DELETE FROM timers WHERE instance_id = $1")
                    .bind(instance_id)
                    .execute(&mut *self.0)
                    .await?;
                Ok(())
            }

            async fn delete_timer(&mut self, instance_id: i64, transition: &str) -> R<()> {
                sqlx::query("DELETE FROM timers WHERE instance_id = $1 AND transition = $2")
                    .bind(instance_id)
                    .bind(transition)
                    .execute(&mut *self.0)
                    .await?;
                Ok(())
            }

            async fn clocks(&mut self, instance_id: i64) -> R<Vec<ClockRow>> {
                let rows = sqlx::query(concat!("SELECT ", clock_columns!(), " FROM clocks WHERE instance_id = $1 ORDER BY sla"))
                    .bind(instance_id)
                    .fetch_all(&mut *self.0)
                    .await?;
                rows.iter().map(Self::clock_row).collect()
            }

            async fn put_clock(&mut self, c: &ClockRow) -> R<()> {
                sqlx::query(concat!(
                    "INSERT INTO clocks (", clock_columns!(), ") \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                     ON CONFLICT (instance_id, sla) DO UPDATE SET status = $3, started_at = $4, \
                     wall_us = $5, business_us = $6, business = $7, segment_started_at = $8, \
                     target = $9, due_at = $10, warn_at = $11, warned = $12, breached = $13"
                ))
                .bind(c.instance_id)
                .bind(&c.sla)
                .bind(&c.status)
                .bind(&c.started_at)
                .bind(c.wall_us)
                .bind(c.business_us)
                .bind(i64::from(c.business))
                .bind(&c.segment_started_at)
                .bind(c.target)
                .bind(&c.due_at)
                .bind(&c.warn_at)
                .bind(c.warned)
                .bind(i64::from(c.breached))
                .execute(&mut *self.0)
                .await?;
                Ok(())
            }

            async fn insert_outbox(&mut self, o: &OutboxRow) -> R<bool> {
                let done = sqlx::query(
                    "INSERT INTO outbox (instance_id, event_seq, kind, recipient_role, \
                     recipient_id, subject, body, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (instance_id, event_seq, kind, recipient_role) DO NOTHING",
                )
                .bind(o.instance_id)
                .bind(o.event_seq)
                .bind(&o.kind)
                .bind(&o.recipient_role)
                .bind(&o.recipient_id)
                .bind(&o.subject)
                .bind(&o.body)
                .bind(&o.created_at)
                .execute(&mut *self.0)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn outbox(&mut self, pending_only: bool) -> R<Vec<OutboxRow>> {
                let rows = sqlx::query(
                    "SELECT id, instance_id, event_seq, kind, recipient_role, recipient_id, \
                     subject, body, created_at, sent_at FROM outbox \
                     WHERE sent_at IS NULL OR NOT $1 ORDER BY id",
                )
                .bind(pending_only)
                .fetch_all(&mut *self.0)
                .await?;
                rows.iter().map(Self::decode).collect()
            }

            async fn claim_idempotency_key(
                &mut self,
                actor: &str,
                key: &str,
                fingerprint: &str,
                at: &str,
            ) -> R<bool> {
                let done = sqlx::query(
                    "INSERT INTO idempotency_keys (actor, key, fingerprint, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (actor, key) DO NOTHING",
                )
                .bind(actor)
                .bind(key)
                .bind(fingerprint)
                .bind(at)
                .execute(&mut *self.0)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn idempotency_key(
                &mut self,
                actor: &str,
                key: &str,
            ) -> R<Option<IdempotencyRow>> {
                let row = sqlx::query(
                    "SELECT fingerprint, response, created_at FROM idempotency_keys \
                     WHERE actor = $1 AND key = $2",
                )
                .bind(actor)
                .bind(key)
                .fetch_optional(&mut *self.0)
                .await?;
                row.as_ref().map(Self::decode).transpose()
            }

            async fn complete_idempotency_key(
                &mut self,
                actor: &str,
                key: &str,
                response: &str,
            ) -> R<()> {
                sqlx::query(
                    "UPDATE idempotency_keys SET response = $3 WHERE actor = $1 AND key = $2",
                )
                .bind(actor)
                .bind(key)
                .bind(response)
                .execute(&mut *self.0)
                .await?;
                Ok(())
            }

            async fn delete_idempotency_key(&mut self, actor: &str, key: &str) -> R<()> {
                sqlx::query("DELETE FROM idempotency_keys WHERE actor = $1 AND key = $2")
                    .bind(actor)
                    .bind(key)
                    .execute(&mut *self.0)
                    .await?;
                Ok(())
            }

            async fn expire_idempotency_keys(&mut self, before: &str) -> R<u64> {
                let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                    .bind(before)
                    .execute(&mut *self.0)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn commit(self) -> R<()> {
                self.0.commit().await?;
                Ok(())
            }

            async fn breached_clocks(
                &mut self,
                after: Option<(i64, &str)>,
                limit: i64,
            ) -> R<Vec<ClockRow>> {
                let (after_id, after_sla) = match after {
                    Some((id, sla)) => (id, sla),
                    None => (i64::MIN, ""),
                };
                let rows = sqlx::query(concat!(
                    "SELECT ", clock_columns!(), " FROM clocks \
                     WHERE breached <> 0 AND (instance_id > $1 OR (instance_id = $1 AND sla > $2)) \
                     ORDER BY instance_id, sla LIMIT $3"
                ))
                .bind(after_id)
                .bind(after_sla)
                .bind(limit)
                .fetch_all(&mut *self.0)
                .await?;
                rows.iter().map(Self::clock_row).collect()
            }

            async fn savepoint(&mut self) -> R<()> {
                sqlx::query("SAVEPOINT pdca_item").execute(&mut *self.0).await?;
                Ok(())
            }

            async fn release_savepoint(&mut self) -> R<()> {
                sqlx::query("RELEASE SAVEPOINT pdca_item")
                    .execute(&mut *self.0)
                    .await?;
                Ok(())
            }

            async fn rollback_to_savepoint(&mut self) -> R<()> {
                sqlx::query("ROLLBACK TO SAVEPOINT pdca_item")
                    .execute(&mut *self.0)
                    .await?;
                sqlx::query("RELEASE SAVEPOINT pdca_item")
                    .execute(&mut *self.0)
                    .await?;
                Ok(())
            }

            async fn claim_due_timers(&mut self, now: &str, limit: i64) -> R<Vec<TimerRow>> {
                let rows = sqlx::query(concat!(
                    "SELECT instance_id, transition, due_at, entered_seq FROM timers \
                     WHERE due_at <= $1 ORDER BY due_at LIMIT $2",
                    $lock
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *self.0)
                .await?;
                rows.iter().map(Self::decode).collect()
            }

            async fn claim_due_clocks(&mut self, now: &str, limit: i64) -> R<Vec<ClockRow>> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    clock_columns!(),
                    " FROM clocks WHERE due_at <= $1 ORDER BY due_at LIMIT $2",
                    $lock
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *self.0)
                .await?;
                rows.iter().map(Self::clock_row).collect()
            }

            async fn instance_with_head(
                &mut self,
                id: i64,
            ) -> R<Option<(InstanceRow, Option<String>)>> {
                let row = sqlx::query(
                    "SELECT i.id, i.process, i.definition_id, i.state, i.record, i.revision, \
                     i.created_at, i.updated_at, (SELECT e.hash FROM events e \
                     WHERE e.instance_id = i.id AND e.seq = i.revision) AS head \
                     FROM instances i WHERE i.id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *self.0)
                .await?;
                match row {
                    None => Ok(None),
                    Some(row) => {
                        let head: Option<String> = row.try_get("head")?;
                        Ok(Some((Self::decode(&row)?, head)))
                    }
                }
            }

            async fn approval_timeouts(&mut self, instance_id: i64) -> R<Vec<ApprovalTimeoutRow>> {
                let rows = sqlx::query(
                    "SELECT instance_id, approval, due_at, entered_seq, timed_out_seq \
                     FROM approval_timeouts WHERE instance_id = $1 ORDER BY approval",
                )
                .bind(instance_id)
                .fetch_all(&mut *self.0)
                .await?;
                rows.iter().map(Self::decode).collect()
            }

            async fn put_approval_timeout(&mut self, t: &ApprovalTimeoutRow) -> R<()> {
                sqlx::query(
                    "INSERT INTO approval_timeouts \
                     (instance_id, approval, due_at, entered_seq, timed_out_seq) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (instance_id, approval) DO UPDATE SET due_at = $3, \
                     entered_seq = $4, timed_out_seq = $5",
                )
                .bind(t.instance_id)
                .bind(&t.approval)
                .bind(&t.due_at)
                .bind(t.entered_seq)
                .bind(t.timed_out_seq)
                .execute(&mut *self.0)
                .await?;
                Ok(())
            }

            async fn delete_approval_timeout(&mut self, instance_id: i64, approval: &str) -> R<()> {
                sqlx::query(
                    "DELETE FROM approval_timeouts WHERE instance_id = $1 AND approval = $2",
                )
                .bind(instance_id)
                .bind(approval)
                .execute(&mut *self.0)
                .await?;
                Ok(())
            }

            async fn claim_due_approval_timeouts(
                &mut self,
                now: &str,
                limit: i64,
            ) -> R<Vec<ApprovalTimeoutRow>> {
                let rows = sqlx::query(concat!(
                    "SELECT instance_id, approval, due_at, entered_seq, timed_out_seq \
                     FROM approval_timeouts WHERE due_at <= $1 ORDER BY due_at LIMIT $2",
                    $lock
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *self.0)
                .await?;
                rows.iter().map(Self::decode).collect()
            }

            async fn schedule(&mut self, process: &str) -> R<Option<ScheduleRow>> {
                let row = sqlx::query(
                    "SELECT process, every, next_due, last_instance, last_started_at \
                     FROM schedules WHERE process = $1",
                )
                .bind(process)
                .fetch_optional(&mut *self.0)
                .await?;
                row.as_ref().map(Self::decode).transpose()
            }

            async fn put_schedule(&mut self, s: &ScheduleRow) -> R<()> {
                sqlx::query(
                    "INSERT INTO schedules \
                     (process, every, next_due, last_instance, last_started_at) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (process) DO UPDATE SET every = $2, next_due = $3, \
                     last_instance = $4, last_started_at = $5",
                )
                .bind(&s.process)
                .bind(&s.every)
                .bind(&s.next_due)
                .bind(s.last_instance)
                .bind(&s.last_started_at)
                .execute(&mut *self.0)
                .await?;
                Ok(())
            }

            async fn delete_schedule(&mut self, process: &str) -> R<()> {
                sqlx::query("DELETE FROM schedules WHERE process = $1")
                    .bind(process)
                    .execute(&mut *self.0)
                    .await?;
                Ok(())
            }

            async fn claim_due_schedules(&mut self, now: &str, limit: i64) -> R<Vec<ScheduleRow>> {
                let rows = sqlx::query(concat!(
                    "SELECT process, every, next_due, last_instance, last_started_at \
                     FROM schedules WHERE next_due <= $1 ORDER BY next_due LIMIT $2",
                    $lock
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *self.0)
                .await?;
                rows.iter().map(Self::decode).collect()
            }
            async fn chained_instances(&mut self, ids: &[i64]) -> R<Vec<ChainedInstance>> {
                let mut out = Vec::with_capacity(ids.len());
                for chunk in ids.chunks($bulk_rows) {
                    let list = placeholders(chunk.len(), 1, 1);
                    let sql = format!(
                        "SELECT i.id, i.process, i.definition_id, i.state, i.record, i.revision, \
                         i.created_at, i.updated_at, e.hash AS head, f.actor AS requester \
                         FROM instances i \
                         JOIN events e ON e.instance_id = i.id AND e.seq = i.revision \
                         JOIN events f ON f.instance_id = i.id AND f.seq = 1 \
                         WHERE i.id IN {list}"
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    for r in q.fetch_all(&mut *self.0).await? {
                        out.push(ChainedInstance {
                            row: Self::decode(&r)?,
                            head: r.try_get("head")?,
                            requester: r.try_get("requester")?,
                        });
                    }
                }
                Ok(out)
            }

            async fn advance_instances(&mut self, moves: &[Advance], at: &str) -> R<u64> {
                let mut moved = 0;
                for chunk in moves.chunks($bulk_rows) {
                    let values = (0..chunk.len())
                        .map(|i| {
                            let n = 2 + 3 * i;
                            format!(
                                "(CAST(${} AS BIGINT), CAST(${} AS BIGINT), CAST(${} AS BIGINT))",
                                n,
                                n + 1,
                                n + 2
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    let sql = format!(
                        "UPDATE instances SET revision = v.column3, updated_at = $1 \
                         FROM (VALUES {values}) AS v \
                         WHERE instances.id = v.column1 AND instances.revision = v.column2"
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(at);
                    for m in chunk {
                        q = q.bind(m.id).bind(m.from).bind(m.to);
                    }
                    moved += q.execute(&mut *self.0).await?.rows_affected();
                }
                Ok(moved)
            }

            async fn insert_events(&mut self, events: &[EventRow]) -> R<()> {
                for chunk in events.chunks($bulk_rows) {
                    let sql = format!(
                        "INSERT INTO events (instance_id, seq, at, actor, actor_roles, kind, \
                         transition, from_state, to_state, patch, prev_hash, hash) VALUES {}",
                        placeholders(chunk.len(), 12, 1)
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for e in chunk {
                        q = q
                            .bind(e.instance_id)
                            .bind(e.seq)
                            .bind(&e.at)
                            .bind(&e.actor)
                            .bind(&e.actor_roles)
                            .bind(&e.kind)
                            .bind(&e.transition)
                            .bind(&e.from_state)
                            .bind(&e.to_state)
                            .bind(&e.patch)
                            .bind(&e.prev_hash)
                            .bind(&e.hash);
                    }
                    q.execute(&mut *self.0).await.map_err(|err| match &err {
                        sqlx::Error::Database(db) if db.is_unique_violation() => {
                            RuntimeError::Conflict {
                                id: chunk[0].instance_id,
                                expected: chunk[0].seq - 1,
                                actual: None,
                            }
                        }
                        _ => RuntimeError::from(err),
                    })?;
                }
                Ok(())
            }

            async fn put_clocks(&mut self, clocks: &[ClockRow]) -> R<()> {
                for chunk in clocks.chunks($bulk_rows) {
                    let sql = format!(
                        concat!(
                            "INSERT INTO clocks (",
                            clock_columns!(),
                            ") VALUES {} \
                             ON CONFLICT (instance_id, sla) DO UPDATE SET \
                             status = excluded.status, started_at = excluded.started_at, \
                             wall_us = excluded.wall_us, business_us = excluded.business_us, \
                             business = excluded.business, \
                             segment_started_at = excluded.segment_started_at, \
                             target = excluded.target, due_at = excluded.due_at, \
                             warn_at = excluded.warn_at, warned = excluded.warned, \
                             breached = excluded.breached"
                        ),
                        placeholders(chunk.len(), 13, 1)
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for c in chunk {
                        q = q
                            .bind(c.instance_id)
                            .bind(&c.sla)
                            .bind(&c.status)
                            .bind(&c.started_at)
                            .bind(c.wall_us)
                            .bind(c.business_us)
                            .bind(i64::from(c.business))
                            .bind(&c.segment_started_at)
                            .bind(c.target)
                            .bind(&c.due_at)
                            .bind(&c.warn_at)
                            .bind(c.warned)
                            .bind(i64::from(c.breached));
                    }
                    q.execute(&mut *self.0).await?;
                }
                Ok(())
            }

            async fn insert_outboxes(&mut self, rows: &[OutboxRow]) -> R<()> {
                for chunk in rows.chunks($bulk_rows) {
                    let sql = format!(
                        "INSERT INTO outbox (instance_id, event_seq, kind, recipient_role, \
                         recipient_id, subject, body, created_at) VALUES {} \
                         ON CONFLICT (instance_id, event_seq, kind, recipient_role) DO NOTHING",
                        placeholders(chunk.len(), 8, 1)
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for o in chunk {
                        q = q
                            .bind(o.instance_id)
                            .bind(o.event_seq)
                            .bind(&o.kind)
                            .bind(&o.recipient_role)
                            .bind(&o.recipient_id)
                            .bind(&o.subject)
                            .bind(&o.body)
                            .bind(&o.created_at);
                    }
                    q.execute(&mut *self.0).await?;
                }
                Ok(())
            }
        }
    };
}

// SQLite write transactions hold the database's write lock: no row locks.
// Its bulk statements stay short: through sqlx a row of a long multi-row
// statement costs more than one of a short one (`cargo bench --bench tick`:
// 20 rows per statement ticked about twice as fast as 200).
impl_tx!(SqliteTx, sqlx::sqlite::SqliteRow, "", 20);
// Two tickers on PostgreSQL never claim the same due row. Bulk statements
// are long: each one is a round trip.
impl_tx!(PgTx, sqlx::postgres::PgRow, " FOR UPDATE SKIP LOCKED", 200);
