//! Shared by the runtime tests: a fresh database per test on SQLite (a temp
//! file) or PostgreSQL (a schema of its own in `DATABASE_URL`, dropped
//! afterwards), the test definitions, and raw SQL for tampering.
//!
//! PostgreSQL: `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
//! When the server cannot be reached the test is skipped with a note,
//! except under `CI`, where it fails.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use pdca::ir::Program;
use pdca::load::Input;
use sqlx::migrate::MigrateDatabase;
use sqlx::{AssertSqlSafe, Connection};

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub const TICKET: &str = include_str!("ticket.pdca");

/// Compiles definitions given as text; panics on errors (test input).
pub fn program(files: &[(&str, &str)]) -> Program {
    let inputs = files
        .iter()
        .map(|(name, text)| Input::from_text(name, text))
        .collect();
    let c = pdca::compile(inputs);
    match c.program {
        Some(p) => p,
        None => panic!(
            "test definitions do not compile:\n{}",
            pdca::diag::render::human(&c.sources, &c.diagnostics, false)
        ),
    }
}

pub fn ticket_program() -> Program {
    ticket_from(TICKET)
}

/// The ticket definitions from (a variant of) `ticket.pdca`, with the
/// `probe` guard that fails at runtime put back into the IR.
pub fn ticket_from(text: &str) -> Program {
    unchecked(program(&[("ticket.pdca", text)]), |p| {
        set_guard(p, "ticket", "probe", "record.effort / 0 == 1")
    })
}

/// Definitions the checker refuses (a guard that can fail at runtime, a
/// spawn cycle) never come out of `compile`, but the runtime still defends
/// against them (definitions deployed by older versions, IR built by other
/// tools), so its tests put them into compiled definitions and re-seal.
pub fn unchecked(mut program: Program, edit: impl FnOnce(&mut Program)) -> Program {
    edit(&mut program);
    for p in &mut program.processes {
        p.seal();
    }
    program
}

/// Replaces the guard of `process`'s transition `transition`.
pub fn set_guard(program: &mut Program, process: &str, transition: &str, guard: &str) {
    let t = program
        .processes
        .iter_mut()
        .filter(|p| p.name == process)
        .flat_map(|p| p.transitions.iter_mut())
        .find(|t| t.name == transition)
        .expect("transition in the test definitions");
    t.guard = Some(guard.to_string());
}

pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    /// (server url, schema) to drop afterwards.
    pg_schema: Option<(String, String)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "t_{}_{}_{}_{}",
        name.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(30)
            .collect::<String>()
            .to_lowercase(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        nanos % 100_000
    )
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("pdca.db").display());
        TestDb {
            url,
            backend: Backend::Sqlite,
            _dir: Some(dir),
            pg_schema: None,
        }
    }

    /// A schema of its own on the PostgreSQL server, or `None` (skip)
    /// when the server is unreachable outside CI.
    pub async fn postgres(name: &str) -> Option<TestDb> {
        let base = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string());
        let reachable = async {
            if !sqlx::Postgres::database_exists(&base).await? {
                sqlx::Postgres::create_database(&base).await?;
            }
            sqlx::PgConnection::connect(&base).await
        };
        let mut conn = match reachable.await {
            Ok(c) => c,
            Err(e) => {
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL at {base} is required under CI: {e}");
                }
                eprintln!("note: skipping the PostgreSQL test `{name}`: cannot reach {base}: {e}");
                return None;
            }
        };
        let schema = unique(name);
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .execute(&mut conn)
            .await
            .expect("create schema");
        let _ = conn.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(TestDb {
            url: format!("{base}{sep}options[search_path]={schema}"),
            backend: Backend::Postgres,
            _dir: None,
            pg_schema: Some((base, schema)),
        })
    }

    /// Runs raw SQL statements (tampering, inspection) outside pdca.
    pub async fn exec(&self, statements: &[&str]) {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("connect");
                for s in statements {
                    sqlx::query(AssertSqlSafe(s.to_string()))
                        .execute(&mut conn)
                        .await
                        .unwrap_or_else(|e| panic!("{s}: {e}"));
                }
                let _ = conn.close().await;
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url)
                    .await
                    .expect("connect");
                for s in statements {
                    sqlx::query(AssertSqlSafe(s.to_string()))
                        .execute(&mut conn)
                        .await
                        .unwrap_or_else(|e| panic!("{s}: {e}"));
                }
                let _ = conn.close().await;
            }
        }
    }

    /// Runs one statement and returns whether it succeeded.
    pub async fn try_exec(&self, statement: &str) -> Result<(), String> {
        let sql = AssertSqlSafe(statement.to_string());
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .map_err(|e| e.to_string())?;
                let r = sqlx::query(sql).execute(&mut conn).await;
                let _ = conn.close().await;
                r.map(|_| ()).map_err(|e| e.to_string())
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url)
                    .await
                    .map_err(|e| e.to_string())?;
                let r = sqlx::query(sql).execute(&mut conn).await;
                let _ = conn.close().await;
                r.map(|_| ()).map_err(|e| e.to_string())
            }
        }
    }

    /// One integer from a query such as `SELECT COUNT(*) FROM events`.
    pub async fn count(&self, query: &str) -> i64 {
        use sqlx::Row;
        let sql = AssertSqlSafe(query.to_string());
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("connect");
                let row = sqlx::query(sql).fetch_one(&mut conn).await.expect(query);
                let _ = conn.close().await;
                row.try_get::<i64, _>(0).expect("integer")
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url)
                    .await
                    .expect("connect");
                let row = sqlx::query(sql).fetch_one(&mut conn).await.expect(query);
                let _ = conn.close().await;
                row.try_get::<i64, _>(0).expect("integer")
            }
        }
    }

    /// Drops the append-only triggers, as someone with write access to the
    /// database could.
    pub async fn drop_append_only_triggers(&self) {
        match self.backend {
            Backend::Sqlite => {
                self.exec(&[
                    "DROP TRIGGER events_no_update",
                    "DROP TRIGGER events_no_delete",
                ])
                .await
            }
            Backend::Postgres => {
                self.exec(&["DROP TRIGGER events_append_only ON events"])
                    .await
            }
        }
    }

    /// Records a schema version newer than any this build knows.
    pub async fn record_future_schema_version(&self, version: i64) {
        let sql = match self.backend {
            Backend::Sqlite => format!(
                "INSERT INTO pdca_schema_migrations (version, description, success, checksum, execution_time) \
                 VALUES ({version}, 'from the future', TRUE, X'00', 0)"
            ),
            Backend::Postgres => format!(
                "INSERT INTO pdca_schema_migrations (version, description, success, checksum, execution_time) \
                 VALUES ({version}, 'from the future', TRUE, '\\x00'::bytea, 0)"
            ),
        };
        self.exec(&[&sql]).await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((base, schema)) = self.pg_schema.take() else {
            return;
        };
        // Drop may run inside the test's runtime: clean up on a thread of
        // its own with a runtime of its own.
        let done = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&base).await {
                    let _ = sqlx::query(AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = done.join();
    }
}

/// Declares one test per backend for an `async fn(&TestDb)` scenario.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let db = $crate::runtime_support::TestDb::sqlite();
                    super::$scenario(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(db) = $crate::runtime_support::TestDb::postgres(stringify!($scenario)).await else {
                        return;
                    };
                    super::$scenario(&db).await;
                }
            )*
        }
    };
}

pub const APPROVALS: &str = include_str!("approvals.pdca");

pub fn approvals_program() -> Program {
    program(&[("approvals.pdca", APPROVALS)])
}

pub const TIMERS: &str = include_str!("timers.pdca");

pub fn timers_program() -> Program {
    program(&[("timers.pdca", TIMERS)])
}

pub const CLOCKS: &str = include_str!("clocks.pdca");

pub fn clocks_program() -> Program {
    program(&[("clocks.pdca", CLOCKS)])
}

pub const OUTBOX: &str = include_str!("outbox.pdca");

pub fn outbox_program() -> Program {
    program(&[("outbox.pdca", OUTBOX)])
}

pub const METRICS: &str = include_str!("metrics.pdca");

/// Plain and business targets in one SLA, see `metrics.pdca`.
pub fn metrics_program() -> Program {
    program(&[("metrics.pdca", METRICS)])
}
