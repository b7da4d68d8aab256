//! `pdca serve` as a real process: it refuses definitions that do not
//! compile, exits 0 on SIGTERM after finishing its requests, accepts a
//! token made by `pdca token new`, and two replicas on one PostgreSQL
//! database fire every due timer exactly once.

mod runtime_support;
mod server_support;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use runtime_support::{TestDb, TICKET, TIMERS};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_pdca");

/// A limit on waiting for a process, so that a broken server fails the
/// test instead of hanging it (not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(120);

struct Server {
    child: Child,
    base: String,
    stderr: std::path::PathBuf,
}

impl Server {
    /// Starts `pdca serve` on port 0 and reads the address it prints.
    fn start(dir: &Path, name: &str, db: &str, extra: &[&str]) -> Server {
        let mut s = Server::spawn(dir, name, db, extra);
        s.listening();
        s
    }

    /// Starts `pdca serve` on port 0 without waiting for it.
    fn spawn(dir: &Path, name: &str, db: &str, extra: &[&str]) -> Server {
        let stderr = dir.join(format!("{name}.stderr"));
        let child = Command::new(BIN)
            .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
            .arg("--processes")
            .arg(dir.join("processes"))
            .arg("--tokens")
            .arg(dir.join("tokens.toml"))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(File::create(&stderr).expect("stderr file")))
            .spawn()
            .expect("spawn pdca serve");
        Server {
            base: String::new(),
            child,
            stderr,
        }
    }

    /// Waits for the line with the address it listens on.
    fn listening(&mut self) {
        let stdout = self.child.stdout.take().expect("stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = self.child.kill();
            let _ = self.child.wait();
            panic!(
                "pdca serve did not start ({read:?}, `{line}`): {}",
                self.stderr()
            );
        };
        self.base = addr.to_string();
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `kill -TERM`, then the exit status.
    fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -TERM failed");
        wait(&mut self.child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.alive() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn wait(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                panic!("the process did not exit");
            }
        }
    }
}

/// A temp dir with `processes/` holding `files` and the cast's tokens.
fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("processes")).expect("mkdir");
    for (name, text) in files {
        std::fs::write(dir.path().join("processes").join(name), text).expect("write");
    }
    std::fs::write(dir.path().join("tokens.toml"), server_support::cast_toml()).expect("tokens");
    dir
}

#[test]
fn serve_refuses_definitions_that_do_not_compile() {
    let broken = include_str!("fixtures/E0201_undefined_state.pdca");
    let dir = workspace(&[("broken.pdca", broken)]);
    let db = format!("sqlite://{}", dir.path().join("pdca.db").display());
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--db",
            &db,
            "--listen",
            "127.0.0.1:0",
            "--processes",
        ])
        .arg(dir.path().join("processes"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let status = wait(&mut child);
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(!stdout.contains("listening"), "{stdout}");
    assert!(stderr.contains("E0201"), "{stderr}");
    assert!(stderr.contains("not serving"), "{stderr}");
    // Nothing was deployed: the database was not even created.
    assert!(!dir.path().join("pdca.db").exists());
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[test]
fn sigterm_finishes_requests_and_exits_zero() {
    let dir = workspace(&[("ticket.pdca", TICKET)]);
    // A token from `pdca token new`, added to the tokens file.
    let made = Command::new(BIN)
        .args([
            "token",
            "new",
            "--actor",
            "dora",
            "--roles",
            "service_desk",
            "--format",
            "json",
        ])
        .output()
        .expect("token new");
    assert_eq!(made.status.code(), Some(0));
    let made: Value = serde_json::from_slice(&made.stdout).expect("json");
    let token = made["token"].as_str().expect("token").to_string();
    let entry = &made["entry"];
    assert_eq!(entry["sha256"].as_str().map(str::len), Some(64));
    assert!(
        !entry.to_string().contains(&token),
        "the entry holds only the hash"
    );
    let mut tokens = std::fs::read_to_string(dir.path().join("tokens.toml")).expect("tokens");
    tokens += &format!(
        "[[token]]\nsha256 = {}\nactor = \"dora\"\nroles = [\"service_desk\"]\n",
        entry["sha256"]
    );
    std::fs::write(dir.path().join("tokens.toml"), tokens).expect("tokens");

    let db = format!("sqlite://{}", dir.path().join("pdca.db").display());
    let mut server = Server::start(dir.path(), "a", &db, &["--tick-interval", "100ms"]);
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let body = json!({"process": "ticket", "record": {"summary": "s", "reported_by": "r",
                      "impact": "low", "urgency": "low"}});
    let created = block_on(async {
        let one = client
            .post(format!("{base}/instances"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("start");
        assert_eq!(one.status().as_u16(), 201);
        // Requests in flight while the signal arrives: each either gets a
        // whole answer or is never accepted; none is cut off half-done.
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (client, base, token, body) =
                (client.clone(), base.clone(), token.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                client
                    .post(format!("{base}/instances"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            }));
        }
        tokio::task::yield_now().await;
        let status = Command::new("kill")
            .args(["-TERM", &server.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let mut created = 1;
        for t in tasks {
            match t.await.expect("task") {
                Ok(201) => created += 1,
                Ok(other) => panic!("a request in flight got {other}"),
                Err(_) => {} // not accepted: the server had stopped listening
            }
        }
        created
    });
    eprintln!("{created} of 21 starts were answered before the server stopped");
    let status = wait(&mut server.child);
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    assert!(server.stderr().contains("stopped"), "{}", server.stderr());

    // Every answered start is in the database, and the audit trail is whole.
    let list = Command::new(BIN)
        .args([
            "instance", "list", "--format", "json", "--limit", "1000", "--db", &db,
        ])
        .output()
        .expect("list");
    let list: Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(
        list["instances"].as_array().map(Vec::len),
        Some(created),
        "{list}"
    );
    let verify = Command::new(BIN)
        .args(["audit", "verify", "--db", &db])
        .output()
        .expect("verify");
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

#[test]
fn sigint_also_exits_zero() {
    let dir = workspace(&[("ticket.pdca", TICKET)]);
    let db = format!("sqlite://{}", dir.path().join("pdca.db").display());
    let mut server = Server::start(dir.path(), "a", &db, &["--log-format", "json"]);
    let status = Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let status = wait(&mut server.child);
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    // `--log-format json`: one JSON object per line.
    let logs = server.stderr();
    assert!(logs.lines().count() >= 3, "{logs}");
    for line in logs.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
}

/// Runs `pdca serve` that must fail before listening; its exit code and stderr.
fn serve_fails(dir: &Path, db: &str, extra: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--db",
            db,
            "--listen",
            "127.0.0.1:0",
            "--processes",
        ])
        .arg(dir.join("processes"))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let status = wait(&mut child);
    let out = child.wait_with_output().expect("output");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    (
        status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn serve_refuses_a_bad_tokens_file_and_an_unreachable_database() {
    let dir = workspace(&[("ticket.pdca", TICKET)]);
    let db = format!("sqlite://{}", dir.path().join("pdca.db").display());
    std::fs::write(
        dir.path().join("bad.toml"),
        "[[token]]\nsha256 = \"not hex\"\nactor = \"a\"\n",
    )
    .expect("write");
    let bad = dir.path().join("bad.toml").display().to_string();
    let (code, stderr) = serve_fails(dir.path(), &db, &["--tokens", &bad]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("64 hexadecimal digits"), "{stderr}");

    let (code, stderr) = serve_fails(dir.path(), "postgres://nobody@127.0.0.1:1/none", &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot connect to the database"),
        "{stderr}"
    );
}

/// The sum of `pdca_transitions_total{via="timer"}` in a metrics text.
fn timer_transitions(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("pdca_transitions_total{via=\"timer\"}"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn two_replicas_fire_each_due_timer_exactly_once() {
    const N: i64 = 60;
    block_on(async {
        let Some(db) = TestDb::postgres("two_replicas").await else {
            return;
        };
        let dir = workspace(&[("timers.pdca", TIMERS)]);
        let args = ["--tick-interval", "50ms"];
        // Both at once on a fresh schema: they race to migrate and deploy.
        let mut a = Server::spawn(dir.path(), "a", &db.url, &args);
        let mut b = Server::spawn(dir.path(), "b", &db.url, &args);
        a.listening();
        b.listening();
        for s in [&a, &b] {
            if s.stderr().contains("trying again") {
                let why = s
                    .stderr()
                    .lines()
                    .find(|l| l.contains("trying again"))
                    .unwrap_or_default()
                    .to_string();
                eprintln!(
                    "replica {} lost the start race and tried again: {why}",
                    s.base
                );
            }
        }
        assert_eq!(
            db.count("SELECT COUNT(*) FROM definitions").await,
            1,
            "one definition, deployed once"
        );
        let client = reqwest::Client::new();
        let token = server_support::token_of("agent");
        for i in 0..N {
            let base = if i % 2 == 0 { &a.base } else { &b.base };
            let r = client
                .post(format!("{base}/instances"))
                .bearer_auth(&token)
                .json(&json!({"process": "request", "record": {"summary": format!("r{i}")}}))
                .send()
                .await
                .expect("start");
            assert_eq!(r.status().as_u16(), 201);
        }
        assert_eq!(db.count("SELECT COUNT(*) FROM timers").await, N);
        // Every timer due now: both workers race for them.
        db.exec(&["UPDATE timers SET due_at = '2000-01-03T10:00:00.000000Z'"])
            .await;
        let deadline = Instant::now() + PATIENCE;
        loop {
            let done = db
                .count("SELECT COUNT(*) FROM instances WHERE state = 'reminded'")
                .await;
            if done == N {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "only {done} of {N} timers fired:\n{}\n{}",
                a.stderr(),
                b.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Give both workers a few more ticks to (wrongly) fire again.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            db.count("SELECT COUNT(*) FROM events WHERE transition = 'remind'")
                .await,
            N,
            "one timer event per instance"
        );
        assert_eq!(
            db.count(
                "SELECT COUNT(*) FROM (SELECT instance_id FROM events WHERE transition = 'remind' \
                 GROUP BY instance_id HAVING COUNT(*) <> 1) AS twice"
            )
            .await,
            0
        );
        assert_eq!(db.count("SELECT COUNT(*) FROM timers").await, 0);
        assert!(a.alive() && b.alive(), "both replicas stay up");
        let mut fired = 0;
        for s in [&a, &b] {
            let health = client
                .get(format!("{}/healthz", s.base))
                .send()
                .await
                .expect("healthz");
            assert_eq!(health.status().as_u16(), 200);
            let metrics = client
                .get(format!("{}/metrics", s.base))
                .send()
                .await
                .expect("metrics")
                .text()
                .await
                .expect("text");
            let mine = timer_transitions(&metrics);
            eprintln!("replica {} fired {mine} timers", s.base);
            fired += mine;
        }
        // The replicas' own counts add up to N: no timer was fired twice.
        assert_eq!(fired, N as u64);
        assert_eq!(a.terminate().code(), Some(0), "{}", a.stderr());
        assert_eq!(b.terminate().code(), Some(0), "{}", b.stderr());
    });
}

/// A write retried with its `Idempotency-Key` after the server restarted
/// gets the first answer: the key was stored with the write.
fn idempotency_key_survives_a_restart(db: &str, dir: &Path) {
    let body = json!({"process": "ticket", "record": {"summary": "s", "reported_by": "r",
                      "impact": "low", "urgency": "low"}});
    let post = |base: &str| {
        let url = format!("{base}/instances");
        let body = body.clone();
        block_on(async move {
            let resp = reqwest::Client::new()
                .post(url)
                .bearer_auth(server_support::token_of("desk"))
                .header("idempotency-key", "retry-after-restart")
                .json(&body)
                .send()
                .await
                .expect("start");
            let status = resp.status().as_u16();
            let replayed = resp.headers().get("idempotency-replayed").is_some();
            (status, replayed, resp.text().await.expect("body"))
        })
    };
    let mut first = Server::start(dir, "first", db, &[]);
    let (status, replayed, answer) = post(&first.base);
    assert_eq!((status, replayed), (201, false), "{answer}");
    assert_eq!(first.terminate().code(), Some(0), "{}", first.stderr());
    let mut second = Server::start(dir, "second", db, &[]);
    let (status, replayed, again) = post(&second.base);
    assert_eq!((status, replayed), (201, true), "{again}");
    assert_eq!(again, answer);
    let listed: Value = block_on(async {
        reqwest::Client::new()
            .get(format!("{}/instances", second.base))
            .bearer_auth(server_support::token_of("desk"))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json")
    });
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    assert_eq!(second.terminate().code(), Some(0), "{}", second.stderr());
}

#[test]
fn idempotency_keys_survive_a_restart_on_sqlite() {
    let dir = workspace(&[("ticket.pdca", TICKET)]);
    let db = format!("sqlite://{}", dir.path().join("pdca.db").display());
    idempotency_key_survives_a_restart(&db, dir.path());
}

#[test]
fn idempotency_keys_survive_a_restart_on_postgres() {
    let Some(db) = block_on(TestDb::postgres("idempotency_restart")) else {
        return;
    };
    let dir = workspace(&[("ticket.pdca", TICKET)]);
    idempotency_key_survives_a_restart(&db.url, dir.path());
}
