//! `cargo bench --bench runtime`: transitions per second through the engine
//! against a baseline, measured in the same run, that performs only the same
//! SQL writes through sqlx (UPDATE the instance + INSERT the event, one
//! transaction each): on SQLite (one writer) and on PostgreSQL with 1 and 8
//! concurrent clients. PostgreSQL is `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), in a schema of its own that is
//! dropped afterwards; it is skipped with a note when unreachable.

use std::sync::Arc;
use std::time::Instant;

use pdca::load::Input;
use pdca::runtime::store::Store;
use pdca::runtime::{Actor, Engine};
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection};

const DEFINITION: &str = r#"
use stdlib.roles.{service_desk}
record Ticket { summary text required  note text }
process bench "Benchmark" for Ticket {
  started by service_desk
  state a initial is recorded
  state b is active
  state done final is closed
  transition go a -> b by service_desk
  transition back b -> a by service_desk
  transition finish a, b -> done by service_desk
}
"#;

fn actor() -> Actor {
    Actor::new("bench", &["service_desk"])
}

/// Starts one instance per client through the engine.
async fn instances(engine: &Engine, clients: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for _ in 0..clients {
        let view = engine
            .start("bench", &actor(), &json!({"summary": "benchmark ticket"}))
            .await
            .expect("start");
        ids.push(view.id);
    }
    ids
}

/// Fires `per_client` transitions on each client's own instance, concurrently.
async fn engine_run(engine: Arc<Engine>, clients: usize, per_client: usize) -> f64 {
    let ids = instances(&engine, clients).await;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for id in ids {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_client {
                let t = if i % 2 == 0 { "go" } else { "back" };
                engine
                    .fire(id, t, &actor(), &json!({"note": format!("step {i}")}), None)
                    .await
                    .expect("fire");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    (clients * per_client) as f64 / start.elapsed().as_secs_f64()
}

/// The same writes as a transition, without the engine: update the instance
/// row (checking the revision) and append an event row, in one transaction.
async fn baseline_run(engine: Arc<Engine>, clients: usize, per_client: usize) -> f64 {
    let ids = instances(&engine, clients).await;
    let store = engine.store().clone();
    let record = json!({"summary": "benchmark ticket", "note": "step"}).to_string();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for id in ids {
        let store = store.clone();
        let record = record.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_client {
                let revision = i as i64 + 1;
                let seq = revision + 1;
                let (from, to) = if i % 2 == 0 { ("a", "b") } else { ("b", "a") };
                let at = pdca::runtime::engine::now();
                let hash = format!("{:064x}", seq);
                macro_rules! write {
                    ($pool:expr) => {{
                        let mut tx = $pool.begin().await.expect("begin");
                        sqlx::query(
                            "UPDATE instances SET state = $1, record = $2, revision = revision + 1, \
                             updated_at = $3 WHERE id = $4 AND revision = $5",
                        )
                        .bind(to)
                        .bind(&record)
                        .bind(&at)
                        .bind(id)
                        .bind(revision)
                        .execute(&mut *tx)
                        .await
                        .expect("update");
                        sqlx::query(
                            "INSERT INTO events (instance_id, seq, at, actor, actor_roles, kind, \
                             transition, from_state, to_state, patch, prev_hash, hash) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                        )
                        .bind(id)
                        .bind(seq)
                        .bind(&at)
                        .bind("bench")
                        .bind("[\"service_desk\"]")
                        .bind("fire")
                        .bind(if i % 2 == 0 { "go" } else { "back" })
                        .bind(from)
                        .bind(to)
                        .bind("{\"note\":\"step\"}")
                        .bind(&hash)
                        .bind(&hash)
                        .execute(&mut *tx)
                        .await
                        .expect("insert");
                        tx.commit().await.expect("commit");
                    }};
                }
                match &store {
                    Store::Sqlite(pool) => write!(pool),
                    Store::Postgres(pool) => write!(pool),
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    (clients * per_client) as f64 / start.elapsed().as_secs_f64()
}

async fn bench(label: &str, url: &str, clients: usize, per_client: usize) {
    let engine = Arc::new(Engine::connect(url).await.expect("connect"));
    let compiled = pdca::compile(vec![Input::from_text("bench.pdca", DEFINITION)]);
    let program = compiled.program.expect("benchmark definition compiles");
    engine.deploy(&program).await.expect("deploy");
    // Warm up connections and caches.
    engine_run(engine.clone(), clients, 20).await;
    baseline_run(engine.clone(), clients, 20).await;
    let base = baseline_run(engine.clone(), clients, per_client).await;
    let eng = engine_run(engine.clone(), clients, per_client).await;
    println!(
        "{:<30} {:>7} {:>14.0} {:>14.0} {:>8.0}%",
        label,
        clients,
        base,
        eng,
        eng / base * 100.0
    );
    engine.store().close().await;
}

#[tokio::main]
async fn main() {
    println!("pdca runtime benchmark: transitions per second (one transaction each)");
    println!(
        "{:<30} {:>7} {:>14} {:>14} {:>9}",
        "backend", "clients", "baseline tx/s", "engine tx/s", "ratio"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    bench("sqlite (WAL, synchronous=FULL)", &sqlite, 1, 2_000).await;

    let base = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let schema = format!("pdca_bench_{}", std::process::id());
    let mut conn = match sqlx::PgConnection::connect(&base).await {
        Ok(c) => c,
        Err(e) => {
            println!("postgres: skipped, cannot reach {base}: {e}");
            return;
        }
    };
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&mut conn)
        .await
        .expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options[search_path]={schema}");
    bench("postgres", &url, 1, 1_000).await;
    bench("postgres", &url, 8, 400).await;
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE")))
        .execute(&mut conn)
        .await
        .expect("drop schema");
}
