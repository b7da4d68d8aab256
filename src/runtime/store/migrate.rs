//! Schema migrations, one SQL file per version and backend, embedded in the
//! binary and applied at connect by sqlx's migrator (in a transaction per
//! migration, under an advisory lock on PostgreSQL). Applied versions are
//! recorded in `pdca_schema_migrations`; a database that records a version
//! this build does not know was written by a newer pdca and is refused
//! before anything touches it.

use std::borrow::Cow;

use sqlx::migrate::{Migrate, MigrateError, Migration, MigrationType, Migrator};
use sqlx::SqlSafeStr;

use super::Store;
use crate::runtime::error::RuntimeError;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 8;

/// How many migrations this build knows (versions may skip numbers while
/// branches that add them are merged).
pub const MIGRATION_COUNT: usize = MIGRATIONS.len();

/// The schema version table.
pub const TABLE: &str = "pdca_schema_migrations";

/// (version, description, sqlite sql, postgres sql)
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "definitions, instances, events",
        include_str!("migrations/sqlite/0001_initial.sql"),
        include_str!("migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "timers",
        include_str!("migrations/sqlite/0002_timers.sql"),
        include_str!("migrations/postgres/0002_timers.sql"),
    ),
    (
        3,
        "clocks",
        include_str!("migrations/sqlite/0003_clocks.sql"),
        include_str!("migrations/postgres/0003_clocks.sql"),
    ),
    (
        4,
        "outbox",
        include_str!("migrations/sqlite/0004_outbox.sql"),
        include_str!("migrations/postgres/0004_outbox.sql"),
    ),
    (
        5,
        "escalation outbox rows",
        include_str!("migrations/sqlite/0005_escalation_outbox.sql"),
        include_str!("migrations/postgres/0005_escalation_outbox.sql"),
    ),
    (
        6,
        "approval timeouts, schedules, warn outbox kinds",
        include_str!("migrations/sqlite/0006_due_work.sql"),
        include_str!("migrations/postgres/0006_due_work.sql"),
    ),
    (
        7,
        "exact clock time, a metric per target",
        include_str!("migrations/sqlite/0007_exact_clocks.sql"),
        include_str!("migrations/postgres/0007_exact_clocks.sql"),
    ),
    (
        8,
        "idempotency keys",
        include_str!("migrations/sqlite/0008_idempotency_keys.sql"),
        include_str!("migrations/postgres/0008_idempotency_keys.sql"),
    ),
];

fn migrator(postgres: bool) -> Migrator {
    migrator_up_to(postgres, SCHEMA_VERSION)
}

/// The migrations up to `version` (an older schema, for upgrade tests).
fn migrator_up_to(postgres: bool, version: i64) -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .filter(|(v, ..)| *v <= version)
        .map(|(version, description, sqlite, pg)| {
            let sql: &'static str = if postgres { pg } else { sqlite };
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    let mut m = Migrator::with_migrations(migrations);
    m.dangerous_set_table_name(TABLE);
    m
}

fn failed(e: MigrateError) -> RuntimeError {
    RuntimeError::Migration {
        reason: e.to_string(),
    }
}

/// Refuses a database whose schema is newer than this build's.
async fn check_version<C: Migrate + ?Sized>(conn: &mut C) -> Result<(), RuntimeError> {
    conn.ensure_migrations_table(TABLE).await.map_err(failed)?;
    let applied = conn.list_applied_migrations(TABLE).await.map_err(failed)?;
    match applied.iter().map(|m| m.version).max() {
        Some(found) if found > SCHEMA_VERSION => Err(RuntimeError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        }),
        _ => Ok(()),
    }
}

/// Applies the migrations this database lacks; a no-op when it is current.
///
/// Several pdca processes may migrate one fresh database at once (two
/// `pdca deploy`): on PostgreSQL they race to create the version table, on
/// SQLite (no advisory lock) to apply the same migration. The loser's
/// transaction rolls back and it tries again, finding what the winner
/// applied; each retry follows another process's progress, so one per
/// migration is enough.
pub async fn run(store: &Store) -> Result<(), RuntimeError> {
    let mut retries = MIGRATIONS.len() + 1;
    loop {
        match run_once(store).await {
            Err(RuntimeError::Migration { .. }) if retries > 0 => {
                retries -= 1;
                tokio::task::yield_now().await;
            }
            done => return done,
        }
    }
}

async fn run_once(store: &Store) -> Result<(), RuntimeError> {
    let result = match store {
        Store::Sqlite(pool) => {
            let mut conn = pool.acquire().await?;
            check_version(&mut *conn).await?;
            migrator(false).run(&mut *conn).await
        }
        Store::Postgres(pool) => {
            let mut conn = pool.acquire().await?;
            check_version(&mut *conn).await?;
            migrator(true).run(&mut *conn).await
        }
    };
    match result {
        Ok(()) => Ok(()),
        // Written by a newer pdca between our check and the lock.
        Err(MigrateError::VersionMissing(found)) => Err(RuntimeError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        }),
        Err(e) => Err(failed(e)),
    }
}

/// Brings a database to the schema of `version` only, as an older pdca
/// left it: for tests that upgrade a database with data in it.
pub async fn run_up_to(store: &Store, version: i64) -> Result<(), RuntimeError> {
    let result = match store {
        Store::Sqlite(pool) => {
            let mut conn = pool.acquire().await?;
            migrator_up_to(false, version).run(&mut *conn).await
        }
        Store::Postgres(pool) => {
            let mut conn = pool.acquire().await?;
            migrator_up_to(true, version).run(&mut *conn).await
        }
    };
    result.map_err(failed)
}
