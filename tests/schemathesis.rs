//! Schemathesis (from PyPI) against the real `pdca serve` on SQLite and on
//! PostgreSQL, with every check (`--checks all`) and every phase
//! (examples, coverage, fuzzing, stateful through the document's links),
//! a bounded number of cases per operation and a fixed seed: any finding
//! fails the test. It proves the OpenAPI document says what the server
//! does. The server runs the reference SMS (`processes/`), with instance 1
//! started from the document's own example, so the examples and generated
//! ids reach instances that exist.
//!
//! `.ci/run` installs the pinned schemathesis into a virtualenv and sets
//! `SCHEMATHESIS` to its executable; elsewhere `schemathesis` is looked
//! up on `PATH`. Without it the test is skipped with a loud note, except
//! under CI (`CI` set), where a missing schemathesis fails.

mod runtime_support;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use pdca::server::auth::hash_token;
use runtime_support::TestDb;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_pdca");

/// Test cases per operation and phase: the whole run (both backends)
/// stays within a few minutes on two cores.
const MAX_EXAMPLES: &str = "50";

/// The token schemathesis sends: an actor holding every role the
/// reference processes name, so generated requests reach the handlers'
/// happy paths.
const TOKEN: &str = "pdca_schemathesis_token";

/// Every role named by the processes in `processes/`.
fn all_roles() -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("processes");
    let inputs = pdca::load::collect(&[root]).expect("processes/");
    let program = pdca::compile(inputs).program.expect("processes/ compiles");
    let mut roles: Vec<String> = program
        .processes
        .iter()
        .flat_map(|p| {
            pdca::runtime::access::process_roles(p)
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// The schemathesis executable, or `None` (skip) outside CI.
fn schemathesis() -> Option<PathBuf> {
    let found = std::env::var_os("SCHEMATHESIS")
        .map(PathBuf::from)
        .or_else(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .map(|d| d.join("schemathesis"))
                .find(|p| p.is_file())
        })
        .filter(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "schemathesis is required under CI: `.ci/run` installs it and sets SCHEMATHESIS"
            );
        }
        eprintln!(
            "\n*** SKIPPED: schemathesis is not installed (set SCHEMATHESIS or put it on PATH; \
             `pip install schemathesis==4.32.5`). The OpenAPI document was NOT checked. ***\n"
        );
    }
    found
}

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

fn serve(dir: &Path, db: &str) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
        .arg("--processes")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("processes"))
        .arg("--tokens")
        .arg(dir.join("tokens.toml"))
        .args(["--tick-interval", "200ms"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            File::create(dir.join("serve.stderr")).expect("stderr file"),
        ))
        .spawn()
        .expect("spawn pdca serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    let _ = BufReader::new(stdout).read_line(&mut line);
    let Some(base) = line.trim().strip_prefix("listening on ") else {
        let _ = child.kill();
        panic!(
            "pdca serve did not start: {}",
            std::fs::read_to_string(dir.join("serve.stderr")).unwrap_or_default()
        );
    };
    Server {
        base: base.to_string(),
        child,
    }
}

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let roles = all_roles()
        .iter()
        .map(|r| format!("\"{r}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let tokens = format!(
        "[[token]]\nsha256 = \"{}\"\nactor = \"fuzz\"\nroles = [{roles}]\n",
        hash_token(TOKEN)
    );
    std::fs::write(dir.path().join("tokens.toml"), tokens).expect("tokens");
    dir
}

/// Starts instance 1 with the document's own example of a start.
fn seed(base: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = reqwest::Client::new();
        let doc: Value = client
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .expect("document")
            .json()
            .await
            .expect("json");
        let example = &doc["components"]["schemas"]["StartBody"]["example"];
        assert!(example.is_object(), "no example of a start: {doc}");
        let a = client
            .post(format!("{base}/instances"))
            .bearer_auth(TOKEN)
            .json(example)
            .send()
            .await
            .expect("start");
        assert_eq!(
            a.status().as_u16(),
            201,
            "{}",
            a.text().await.unwrap_or_default()
        );
    });
}

/// Runs schemathesis against a fresh server on `db`; fails on any finding.
fn run(st: &Path, db: &str, dir: &Path) {
    let server = serve(dir, db);
    seed(&server.base);
    let started = Instant::now();
    let out = Command::new(st)
        .current_dir(dir)
        .arg("--config-file")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis.toml"))
        .args(["run", &format!("{}/openapi.json", server.base)])
        .args(["--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", "20000"])
        .args(["--workers", "1"])
        .args(["--generation-database", "none"])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--request-timeout", "30"])
        .arg("--no-color")
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "schemathesis on {} took {:.1} s:\n{stdout}",
        db.split(':').next().unwrap_or(db),
        started.elapsed().as_secs_f64()
    );
    assert!(
        out.status.success(),
        "schemathesis found problems ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
        out.status,
        std::fs::read_to_string(dir.join("serve.stderr")).unwrap_or_default()
    );
    drop(server);
}

#[test]
fn the_openapi_document_holds_on_sqlite() {
    let Some(st) = schemathesis() else {
        return;
    };
    let dir = workspace();
    let db = format!("sqlite://{}", dir.path().join("pdca.db").display());
    run(&st, &db, dir.path());
}

#[test]
fn the_openapi_document_holds_on_postgres() {
    let Some(st) = schemathesis() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let Some(db) = rt.block_on(TestDb::postgres("schemathesis")) else {
        return;
    };
    let dir = workspace();
    run(&st, &db.url, dir.path());
}
