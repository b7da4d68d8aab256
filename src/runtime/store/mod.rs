//! Storage: SQLite (embedded, the default) and PostgreSQL behind one
//! interface.
//!
//! [`Store`] is a connection pool for either backend; every engine
//! operation runs in one transaction through the [`Tx`] trait, implemented
//! for both backends by the same SQL (both accept `$N` parameters). Only
//! the schema differs per backend (`migrations/<backend>/*.sql`, embedded
//! in the binary and applied at connect, see [`migrate`]).

mod migrate;
mod tx;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};

use super::error::RuntimeError;

pub use migrate::{MIGRATION_COUNT, SCHEMA_VERSION};
pub(crate) use tx::{Mode, Tx};

/// The database used when none is named.
pub const DEFAULT_URL: &str = "sqlite://pdca.db";

/// A stored process definition.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DefinitionRow {
    pub id: i64,
    pub process: String,
    pub version: i64,
    pub hash: String,
    pub ir: String,
    pub active: bool,
    pub deployed_at: String,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InstanceRow {
    pub id: i64,
    pub process: String,
    pub definition_id: i64,
    pub state: String,
    /// JSON object.
    pub record: String,
    pub revision: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// One stored event, as written (JSON columns as text).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EventRow {
    pub instance_id: i64,
    pub seq: i64,
    pub at: String,
    pub actor: String,
    /// JSON array of role names.
    pub actor_roles: String,
    pub kind: String,
    pub transition: Option<String>,
    pub from_state: Option<String>,
    pub to_state: String,
    /// JSON object (canonical form).
    pub patch: String,
    pub prev_hash: String,
    pub hash: String,
}

/// A pending timer: `transition` fires on the instance at `due_at` if it
/// is still in the state entered by event `entered_seq`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TimerRow {
    pub instance_id: i64,
    pub transition: String,
    pub due_at: String,
    pub entered_seq: i64,
}

/// The clock of one SLA on one instance (see `engine::clocks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockRow {
    pub instance_id: i64,
    pub sla: String,
    /// `running`, `paused`, `met` or `breached`.
    pub status: String,
    pub started_at: String,
    /// Wall-clock time of the finished segments, in microseconds.
    pub wall_us: i64,
    /// Working time on the SLA's calendar of the finished segments, in
    /// microseconds (wall-clock time for an SLA without a calendar).
    pub business_us: i64,
    /// Whether the current target counts working time (`business_us`) or
    /// wall-clock time (`wall_us`).
    pub business: bool,
    /// Start of the running segment; `None` unless running.
    pub segment_started_at: Option<String>,
    /// Target in minutes of the clock's metric.
    pub target: i64,
    /// The next time `tick` has work on the clock if it keeps running: the
    /// earlier of the next warn threshold and the breach; `None` unless
    /// running and not yet breached.
    pub due_at: Option<String>,
    /// When the next warn threshold is reached; `None` when none is left.
    pub warn_at: Option<String>,
    /// Warn thresholds reached in this run of the clock.
    pub warned: i64,
    pub breached: bool,
}

/// The timeout of an approval an instance is waiting on (see
/// `runtime::tick`): due at `due_at` unless the round ends first; `due_at`
/// is `None` and `timed_out_seq` set once the round has timed out.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApprovalTimeoutRow {
    pub instance_id: i64,
    pub approval: String,
    pub due_at: Option<String>,
    /// The event that entered the approval's state (opened the round).
    pub entered_seq: i64,
    /// The `approval_timeout` event, once written.
    pub timed_out_seq: Option<i64>,
}

/// An instance as a batch of `tick` reads it: its row, the hash its next
/// event chains to (that of event `revision`) and who started it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainedInstance {
    pub row: InstanceRow,
    pub head: String,
    pub requester: String,
}

/// One instance a batch moves from revision `from` to `to` (state and
/// record unchanged), refused unless it is still at `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    pub id: i64,
    pub from: i64,
    pub to: i64,
}

/// The schedule of a process with `schedule every`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ScheduleRow {
    pub process: String,
    /// The interval as written, e.g. `3 months`.
    pub every: String,
    pub next_due: String,
    pub last_instance: Option<i64>,
    pub last_started_at: Option<String>,
}

/// One notification in the outbox.
/// An idempotency key as stored (see `runtime::idempotency`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IdempotencyRow {
    pub fingerprint: String,
    /// The answer's JSON text; set in the transaction that inserted the row.
    pub response: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub instance_id: i64,
    pub event_seq: i64,
    /// `on_enter`, `breach`, `warn` or `approval_timeout`.
    pub kind: String,
    pub recipient_role: String,
    /// The recipient's id when known (`requester`: the starting actor).
    pub recipient_id: Option<String>,
    pub subject: String,
    pub body: String,
    pub created_at: String,
    pub sent_at: Option<String>,
}

/// A pool of connections to one database.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// How long to wait for a lock (SQLite) or a connection (both).
const WAIT: Duration = Duration::from_secs(10);

impl Store {
    /// Connects to `sqlite://FILE` (created on first use) or
    /// `postgres://…`, and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Store, RuntimeError> {
        let store = Store::open(url).await?;
        migrate::run(&store).await?;
        Ok(store)
    }

    /// Connects and brings the schema to `version` only, the schema an
    /// older pdca wrote: for tests that upgrade a database with data in
    /// it (see `tests/runtime_clocks.rs`).
    #[doc(hidden)]
    pub async fn connect_at_version(url: &str, version: i64) -> Result<Store, RuntimeError> {
        let store = Store::open(url).await?;
        migrate::run_up_to(&store, version).await?;
        Ok(store)
    }

    async fn open(url: &str) -> Result<Store, RuntimeError> {
        let store = if url.starts_with("sqlite:") {
            Store::Sqlite(connect_sqlite(url).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Store::Postgres(connect_postgres(url).await?)
        } else {
            return Err(RuntimeError::UnsupportedUrl { url: redact(url) });
        };
        Ok(store)
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection (waits for them to be returned).
    pub async fn close(&self) {
        match self {
            Store::Sqlite(p) => p.close().await,
            Store::Postgres(p) => p.close().await,
        }
    }
}

async fn connect_sqlite(url: &str) -> Result<SqlitePool, RuntimeError> {
    let unreachable = |e: sqlx::Error| RuntimeError::Unreachable {
        url: redact(url),
        reason: e.to_string(),
    };
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|_| RuntimeError::UnsupportedUrl { url: redact(url) })?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // The event log is the audit trail: a committed event survives a
        // power cut, not only a crash of pdca.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(WAIT);
    // An in-memory database exists once per connection: keep one.
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    SqlitePoolOptions::new()
        .max_connections(if in_memory { 1 } else { 4 })
        .acquire_timeout(WAIT)
        .connect_with(options)
        .await
        .map_err(unreachable)
}

async fn connect_postgres(url: &str) -> Result<PgPool, RuntimeError> {
    let unreachable = |e: sqlx::Error| RuntimeError::Unreachable {
        url: redact(url),
        reason: e.to_string(),
    };
    let options = PgConnectOptions::from_str(url).map_err(unreachable)?;
    // One direct connection first: the pool would retry until its timeout
    // and report only that, not why the server refused.
    let probe = options.connect().await.map_err(unreachable)?;
    let _ = probe.close().await;
    PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(WAIT)
        .connect_with(options)
        .await
        .map_err(unreachable)
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://bob:secret@db:5432/x"),
            "postgres://bob:***@db:5432/x"
        );
        assert_eq!(redact("postgres://bob@db/x"), "postgres://bob@db/x");
        assert_eq!(redact("sqlite://pdca.db"), "sqlite://pdca.db");
    }
}
