//! `cargo bench --bench tick`: one `Engine::tick` that breaches 1,000 due
//! SLA clocks among 1,000,000 open instances, against a baseline measured in
//! the same run: the same tick with 1,000 open instances, all 1,000 due. A
//! tick that finds its work through the `due_at` index costs about the same
//! in both; one that scanned open instances would be ~1,000x slower.
//!
//! Backends: SQLite (a temp file, WAL, synchronous FULL: the store's
//! defaults) and PostgreSQL (`DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`, in a schema of its own that is
//! dropped at the end; skipped with a note when unreachable).
//!
//! The definition is deployed through the engine; instances, their `start`
//! events (with real hash chains) and their running clocks are seeded with
//! bulk SQL in one transaction (`INSERT … SELECT` from a recursive CTE on
//! SQLite, `generate_series` on PostgreSQL; the event hashes, computed here,
//! come in as one array per chunk). The first 1,000 instances opened at T0
//! and are due at T0 + 60 min; the others opened a day later. Each round
//! ticks at T0 + 61 min, checks that exactly the 1,000 due clocks breached,
//! then re-arms those clocks for the next round.

use std::time::Instant;

use pdca::load::Input;
use pdca::runtime::audit::{canonical_json, EventContent, GENESIS};
use pdca::runtime::store::Store;
use pdca::runtime::Engine;
use serde_json::{json, Value};
use sqlx::{AssertSqlSafe, Connection};

const DEFINITION: &str = r#"
role agent "Agent"
record Case { summary text required }
process bench "Tick benchmark" for Case {
  started by agent
  state open initial is recorded
  state done final is resolved
  transition finish open -> done by agent
  sla resolution "Resolution" {
    from open until done
    target 60 min
  }
}
"#;

const DUE: i64 = 1_000;
const ROUNDS: usize = 5;
const T0: &str = "2026-01-05T00:00:00.000000Z";
const T0_DUE: &str = "2026-01-05T01:00:00.000000Z";
const T1: &str = "2026-01-06T00:00:00.000000Z";
const T1_DUE: &str = "2026-01-06T01:00:00.000000Z";
const TICK_AT: &str = "2026-01-05T01:01:00Z";
const CHUNK: i64 = 100_000;

fn record() -> Value {
    json!({ "summary": "benchmark case" })
}

/// The hash of instance `id`'s start event, as the engine writes it.
fn start_hash(id: i64, at: &str) -> String {
    let roles = json!(["agent"]);
    let patch = record();
    EventContent {
        instance: id,
        seq: 1,
        at,
        actor: "seed",
        roles: &roles,
        kind: "start",
        transition: None,
        from: None,
        to: "open",
        patch: &patch,
    }
    .hash(GENESIS)
}

fn created(id: i64) -> &'static str {
    if id <= DUE {
        T0
    } else {
        T1
    }
}

/// Seeds `open` instances (the first [`DUE`] of them due) in one
/// transaction.
async fn seed(store: &Store, definition_id: i64, open: i64) {
    let rec = canonical_json(&record());
    macro_rules! run {
        ($tx:expr, $sql:expr $(, $bind:expr)*) => {
            sqlx::query(AssertSqlSafe($sql))
                $(.bind($bind))*
                .execute(&mut *$tx)
                .await
                .expect("seed")
        };
    }
    let (series, pg) = match store {
        Store::Sqlite(_) => (
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {open}) "
            ),
            false,
        ),
        Store::Postgres(_) => (
            format!("WITH n(i) AS (SELECT generate_series(1, {open})::BIGINT) "),
            true,
        ),
    };
    let instances = format!(
        "{series}INSERT INTO instances (id, process, definition_id, state, record, revision, \
         created_at, updated_at) SELECT i, 'bench', $1, 'open', $2, 1, \
         CASE WHEN i <= {DUE} THEN '{T0}' ELSE '{T1}' END, \
         CASE WHEN i <= {DUE} THEN '{T0}' ELSE '{T1}' END FROM n"
    );
    let clocks = format!(
        "{series}INSERT INTO clocks (instance_id, sla, status, started_at, wall_us, \
         business_us, business, segment_started_at, target, due_at, warn_at, warned, breached) \
         SELECT i, 'resolution', 'running', \
         CASE WHEN i <= {DUE} THEN '{T0}' ELSE '{T1}' END, 0, 0, 0, \
         CASE WHEN i <= {DUE} THEN '{T0}' ELSE '{T1}' END, 60, \
         CASE WHEN i <= {DUE} THEN '{T0_DUE}' ELSE '{T1_DUE}' END, NULL, 0, 0 FROM n"
    );
    // Start events: everything in SQL but the hash, which comes as an
    // array (JSON on SQLite, text[] on PostgreSQL) per chunk of ids.
    let events = |from: i64| {
        let common = format!(
            "CASE WHEN i <= {DUE} THEN '{T0}' ELSE '{T1}' END, 'seed', '[\"agent\"]', 'start', \
             NULL, NULL, 'open', $2, '{GENESIS}', h"
        );
        let cols = "INSERT INTO events (instance_id, seq, at, actor, actor_roles, kind, \
                    transition, from_state, to_state, patch, prev_hash, hash) ";
        if pg {
            format!(
                "{cols}SELECT i, 1, {common} FROM (SELECT ({from} + o - 1)::BIGINT AS i, h \
                 FROM UNNEST($1::TEXT[]) WITH ORDINALITY AS t(h, o)) AS s"
            )
        } else {
            format!(
                "{cols}SELECT i, 1, {common} FROM (SELECT {from} + key AS i, value AS h \
                 FROM json_each($1)) AS s"
            )
        }
    };
    let hashes = |from: i64, to: i64| -> Vec<String> {
        (from..=to).map(|i| start_hash(i, created(i))).collect()
    };
    match store {
        Store::Sqlite(pool) => {
            let mut tx = pool.begin().await.expect("begin");
            run!(tx, instances, definition_id, &rec);
            let mut from = 1;
            while from <= open {
                let to = (from + CHUNK - 1).min(open);
                let list = serde_json::to_string(&hashes(from, to)).expect("json");
                run!(tx, events(from), list, &rec);
                from = to + 1;
            }
            run!(tx, clocks);
            tx.commit().await.expect("commit");
        }
        Store::Postgres(pool) => {
            let mut tx = pool.begin().await.expect("begin");
            run!(tx, instances, definition_id, &rec);
            let mut from = 1;
            while from <= open {
                let to = (from + CHUNK - 1).min(open);
                run!(tx, events(from), hashes(from, to), &rec);
                from = to + 1;
            }
            run!(tx, clocks);
            run!(
                tx,
                "SELECT setval(pg_get_serial_sequence('instances', 'id'), \
                 (SELECT MAX(id) FROM instances))"
                    .to_string()
            );
            run!(tx, "ANALYZE".to_string());
            tx.commit().await.expect("commit");
        }
    }
}

/// Puts the due clocks back as they were before the tick breached them.
async fn rearm(store: &Store) {
    let sql =
        format!("UPDATE clocks SET breached = 0, due_at = '{T0_DUE}' WHERE instance_id <= {DUE}");
    match store {
        Store::Sqlite(pool) => {
            sqlx::query(AssertSqlSafe(sql))
                .execute(pool)
                .await
                .expect("rearm");
        }
        Store::Postgres(pool) => {
            sqlx::query(AssertSqlSafe(sql))
                .execute(pool)
                .await
                .expect("rearm");
        }
    }
}

/// Ms per tick (median of [`ROUNDS`]) with `open` instances, 1,000 due.
async fn measure(url: &str, open: i64) -> (f64, f64) {
    let engine = Engine::connect(url).await.expect("connect");
    let compiled = pdca::compile(vec![Input::from_text("bench.pdca", DEFINITION)]);
    let program = compiled.program.expect("benchmark definition compiles");
    let deployed = engine.deploy(&program).await.expect("deploy");
    let definition_id = deployed.processes[0].definition_id;
    let started = Instant::now();
    seed(engine.store(), definition_id, open).await;
    let seeding = started.elapsed().as_secs_f64();
    let now: jiff::Timestamp = TICK_AT.parse().expect("tick time");
    let mut times = Vec::new();
    for round in 0..ROUNDS {
        if round > 0 {
            rearm(engine.store()).await;
        }
        let start = Instant::now();
        let report = engine.tick(now).await.expect("tick");
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(report.breached.len() as i64, DUE, "{:?}", report.failed);
        assert!(report.failed.is_empty());
    }
    engine.store().close().await;
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], seeding)
}

async fn bench(label: &str, url_for: impl Fn(&str) -> String) {
    let (base, base_seed) = measure(&url_for("base"), DUE).await;
    let (big, big_seed) = measure(&url_for("big"), 1_000_000).await;
    println!(
        "{label:<32} {base:>12.1} {big:>14.1} {:>8.2}x   seeding {base_seed:.1}s / {big_seed:.1}s",
        big / base
    );
}

#[tokio::main]
async fn main() {
    println!(
        "pdca tick benchmark: one tick breaching {DUE} due SLA clocks (ms per tick, median of {ROUNDS}); target < 100 ms"
    );
    println!(
        "{:<32} {:>12} {:>14} {:>9}",
        "backend", "1,000 open", "1,000,000 open", "ratio"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_path_buf();
    bench("sqlite (WAL, synchronous=FULL)", |name| {
        format!("sqlite://{}", path.join(format!("{name}.db")).display())
    })
    .await;

    let base = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let mut conn = match sqlx::PgConnection::connect(&base).await {
        Ok(c) => c,
        Err(e) => {
            println!("postgres: skipped, cannot reach {base}: {e}");
            return;
        }
    };
    let schemas: Vec<String> = ["base", "big"]
        .iter()
        .map(|n| format!("pdca_tick_bench_{n}_{}", std::process::id()))
        .collect();
    for s in &schemas {
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{s}\"")))
            .execute(&mut conn)
            .await
            .expect("create schema");
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    let pid = std::process::id();
    bench("postgres", |name| {
        format!("{base}{sep}options[search_path]=pdca_tick_bench_{name}_{pid}")
    })
    .await;
    for s in &schemas {
        sqlx::query(AssertSqlSafe(format!("DROP SCHEMA \"{s}\" CASCADE")))
            .execute(&mut conn)
            .await
            .expect("drop schema");
    }
}
