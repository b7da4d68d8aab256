//! Load on `pdca serve` over loopback: the real binary, real HTTP.
//!
//! For SQLite and PostgreSQL it measures
//! - closed loop, 8 connections: requests/s with p50/p99 latency for
//!   `GET /instances/{id}` and `POST /instances/{id}/transitions/{name}`;
//! - open loop at a fixed 1,000 transitions/s (spread over 64 instances,
//!   each request timed from the moment it was due, so a stalled server
//!   is charged for the requests it delayed);
//! - the direct rate: the same transitions through `Engine::fire` in this
//!   process, 8 clients, against the same database — the HTTP transition
//!   rate is reported as a ratio of it.
//!
//! Client, server and database share the machine's cores: figures are
//! for the whole loopback system.
//!
//! `cargo bench --bench server` (PostgreSQL from `DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pdca::load::Input;
use pdca::runtime::{Actor, Engine};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Connection};

const DEFINITION: &str = r#"
role service_desk "Service desk"
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

const TOKEN: &str = "bench-token-0123456789abcdef";
const CLIENTS: usize = 8;

/// A running `pdca serve`, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &std::path::Path, db: &str) -> Server {
    let processes = dir.join("processes");
    std::fs::create_dir_all(&processes).expect("processes dir");
    std::fs::write(processes.join("bench.pdca"), DEFINITION).expect("definition");
    let hash = hex::encode(Sha256::digest(TOKEN.as_bytes()));
    let tokens = dir.join("tokens.toml");
    std::fs::write(
        &tokens,
        format!("[[token]]\nsha256 = \"{hash}\"\nactor = \"bench\"\nroles = [\"service_desk\"]\n"),
    )
    .expect("tokens");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pdca"))
        .args([
            "serve",
            "--db",
            db,
            "--listen",
            "127.0.0.1:0",
            "--no-worker",
        ])
        .arg("--processes")
        .arg(&processes)
        .arg("--tokens")
        .arg(&tokens)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start pdca serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("pdca serve exited before listening")
            .expect("read stdout");
        if let Some(addr) = line.strip_prefix("listening on ") {
            break addr.trim().to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, base }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("http client")
}

async fn start_instance(http: &reqwest::Client, base: &str) -> i64 {
    let response = http
        .post(format!("{base}/instances"))
        .bearer_auth(TOKEN)
        .json(&json!({"process": "bench", "record": {"summary": "load"}}))
        .send()
        .await
        .expect("start request");
    assert_eq!(response.status().as_u16(), 201, "start instance");
    let body: Value = response.json().await.expect("start body");
    body["id"].as_i64().expect("instance id")
}

/// Sorted latencies and the wall time they took.
struct Run {
    latencies: Vec<Duration>,
    wall: Duration,
    errors: usize,
}

impl Run {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }
    fn pct(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1000.0
    }
}

fn finish(mut per_task: Vec<(Vec<Duration>, usize)>, wall: Duration) -> Run {
    let mut latencies = Vec::new();
    let mut errors = 0;
    for (l, e) in per_task.drain(..) {
        latencies.extend(l);
        errors += e;
    }
    latencies.sort();
    Run {
        latencies,
        wall,
        errors,
    }
}

/// `CLIENTS` connections, each sending `per_client` requests back to back
/// on its own instance.
async fn closed_loop(http: &reqwest::Client, base: &str, fire: bool, per_client: usize) -> Run {
    let mut ids = Vec::new();
    for _ in 0..CLIENTS {
        ids.push(start_instance(http, base).await);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for id in ids {
        let http = http.clone();
        let base = base.to_string();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            let mut errors = 0;
            for i in 0..per_client {
                let t0 = Instant::now();
                let ok = if fire {
                    let name = if i % 2 == 0 { "go" } else { "back" };
                    http.post(format!("{base}/instances/{id}/transitions/{name}"))
                        .bearer_auth(TOKEN)
                        .json(&json!({"patch": {"note": format!("step {i}")}}))
                        .send()
                        .await
                } else {
                    http.get(format!("{base}/instances/{id}"))
                        .bearer_auth(TOKEN)
                        .send()
                        .await
                };
                match ok {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(t0.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("client task"));
    }
    finish(results, started.elapsed())
}

/// Transitions at a fixed `rate` per second for `seconds`, spread over
/// `lanes` instances (one request in flight per instance, so none
/// conflicts); each latency counts from when its request was due.
async fn open_loop(
    http: &reqwest::Client,
    base: &str,
    rate: f64,
    seconds: f64,
    lanes: usize,
) -> Run {
    let mut ids = Vec::new();
    for _ in 0..lanes {
        ids.push(start_instance(http, base).await);
    }
    let per_lane = (rate * seconds / lanes as f64).round() as usize;
    let interval = Duration::from_secs_f64(lanes as f64 / rate);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (lane, id) in ids.into_iter().enumerate() {
        let http = http.clone();
        let base = base.to_string();
        // Stagger the lanes evenly over one interval.
        let offset = interval.mul_f64(lane as f64 / lanes as f64);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_lane);
            let mut errors = 0;
            for i in 0..per_lane {
                let due = started + offset + interval * i as u32;
                tokio::time::sleep_until(due.into()).await;
                let name = if i % 2 == 0 { "go" } else { "back" };
                let r = http
                    .post(format!("{base}/instances/{id}/transitions/{name}"))
                    .bearer_auth(TOKEN)
                    .json(&json!({"patch": {"note": "open loop"}}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(due.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("lane task"));
    }
    finish(results, started.elapsed())
}

/// Transitions per second through `Engine::fire` in this process, 8
/// clients each on its own instance (as `cargo bench --bench runtime`).
async fn direct_rate(db: &str, per_client: usize) -> f64 {
    let engine = Arc::new(Engine::connect(db).await.expect("connect"));
    let compiled = pdca::compile(vec![Input::from_text("bench.pdca", DEFINITION)]);
    let program = compiled.program.expect("benchmark definition compiles");
    engine.deploy(&program).await.expect("deploy");
    let actor = Actor::new("bench", &["service_desk"]);
    let mut ids = Vec::new();
    for _ in 0..CLIENTS {
        let view = engine
            .start("bench", &actor, &json!({"summary": "direct"}))
            .await
            .expect("start");
        ids.push(view.id);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for id in ids {
        let engine = engine.clone();
        let actor = actor.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_client {
                let t = if i % 2 == 0 { "go" } else { "back" };
                engine
                    .fire(id, t, &actor, &json!({"note": format!("step {i}")}), None)
                    .await
                    .expect("fire");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let rate = (CLIENTS * per_client) as f64 / started.elapsed().as_secs_f64();
    engine.store().close().await;
    rate
}

fn line(label: &str, what: &str, run: &Run) {
    println!(
        "{:<10} {:<34} {:>9.0} {:>9.2} {:>9.2} {:>7}",
        label,
        what,
        run.rate(),
        run.pct(0.50),
        run.pct(0.99),
        run.errors
    );
}

async fn bench(label: &str, db: &str, dir: &std::path::Path, per_client: usize, open_rate: f64) {
    let server = serve(dir, db);
    let http = client();
    // Warm up connections, caches and the definition.
    closed_loop(&http, &server.base, true, 20).await;
    let get = closed_loop(&http, &server.base, false, per_client).await;
    let post = closed_loop(&http, &server.base, true, per_client).await;
    let open = open_loop(&http, &server.base, open_rate, 5.0, 64).await;
    drop(server);
    let direct = direct_rate(db, per_client).await;
    line(label, "GET instance (8 conns)", &get);
    line(label, "POST transition (8 conns)", &post);
    line(
        label,
        &format!("POST transition at {open_rate:.0}/s (open)"),
        &open,
    );
    println!(
        "{:<10} {:<34} {:>9.0}   HTTP/direct = {:.0}%",
        label,
        "direct Engine::fire (8 clients)",
        direct,
        post.rate() / direct * 100.0
    );
}

#[tokio::main]
async fn main() {
    println!("pdca serve load benchmark (loopback; client, server and database on one machine)");
    println!(
        "{:<10} {:<34} {:>9} {:>9} {:>9} {:>7}",
        "backend", "workload", "req/s", "p50 ms", "p99 ms", "errors"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    bench("sqlite", &sqlite, dir.path(), 500, 500.0).await;

    let base = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let mut conn = match sqlx::PgConnection::connect(&base).await {
        Ok(c) => c,
        Err(e) => {
            println!("postgres: skipped, cannot reach {base}: {e}");
            return;
        }
    };
    let schema = format!("pdca_serve_bench_{}", std::process::id());
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&mut conn)
        .await
        .expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options[search_path]={schema}");
    let pg_dir = tempfile::tempdir().expect("temp dir");
    bench("postgres", &url, pg_dir.path(), 500, 1000.0).await;
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE")))
        .execute(&mut conn)
        .await
        .expect("drop schema");
}
