//! Deploys racing on one database (SQLite and PostgreSQL): several engines,
//! each with its own connection pool, and several `pdca deploy` processes
//! on a fresh database (racing to migrate it, too) deploy at once; every
//! deploy succeeds and each definition content is stored exactly once, with
//! one active version per process.

mod runtime_support;

use std::sync::Arc;

use pdca::ir::Program;
use pdca::runtime::engine::DeployStatus;
use pdca::runtime::Engine;
use runtime_support::{program, TestDb, TICKET};

on_both_backends!(
    concurrent_deploys_all_succeed,
    concurrent_cli_deploys_all_succeed
);

const RACERS: usize = 6;

fn variant(title: &str) -> Program {
    let text = TICKET.replace(
        "process ticket \"Ticket\"",
        &format!("process ticket \"{title}\""),
    );
    program(&[("ticket.pdca", &text)])
}

async fn connect(db: &TestDb) -> Engine {
    match Engine::connect(&db.url).await {
        Ok(e) => e,
        Err(e) => panic!("connect {}: {e}", db.url),
    }
}

/// `definitions` stored, each content once, one active version per process.
async fn assert_stored_once(db: &TestDb, definitions: i64) {
    let processes = db
        .count("SELECT COUNT(DISTINCT process) FROM definitions")
        .await;
    assert_eq!(
        db.count("SELECT COUNT(*) FROM definitions").await,
        definitions
    );
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM (SELECT process, hash FROM definitions \
             GROUP BY process, hash HAVING COUNT(*) > 1) AS twice"
        )
        .await,
        0
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM definitions WHERE active")
            .await,
        processes
    );
}

async fn concurrent_deploys_all_succeed(db: &TestDb) {
    // Separate pools, as separate `pdca deploy` runs would have (connected
    // one after the other: this test is about deploys, not migrations).
    let mut engines = Vec::new();
    for _ in 0..RACERS {
        engines.push(Arc::new(connect(db).await));
    }
    let processes = variant("Ticket").processes.len();
    // (definitions, what the one deploy that does the work reports, for
    // how many processes): `v2` changes `ticket` only.
    let rounds = [
        (variant("Ticket"), DeployStatus::Created, processes),
        (variant("Ticket v2"), DeployStatus::Updated, 1),
        (variant("Ticket"), DeployStatus::Reactivated, 1),
    ];
    for (i, (program, first, changed)) in rounds.iter().enumerate() {
        let program = Arc::new(program.clone());
        let mut tasks = Vec::new();
        for e in &engines {
            let (e, program) = (e.clone(), program.clone());
            tasks.push(tokio::spawn(async move { e.deploy(&program).await }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            let report = t
                .await
                .expect("deploy task")
                .unwrap_or_else(|err| panic!("round {i}: a concurrent deploy failed: {err}"));
            statuses.extend(report.processes.into_iter().map(|p| p.status));
        }
        // One deploy per process did the work; the others found it done.
        let did = statuses.iter().filter(|s| *s == first).count();
        let unchanged = statuses
            .iter()
            .filter(|s| **s == DeployStatus::Unchanged)
            .count();
        assert_eq!(did, *changed, "round {i}: {statuses:?}");
        assert_eq!(
            unchanged,
            processes * RACERS - changed,
            "round {i}: {statuses:?}"
        );
    }
    // `ticket` in two versions, the others in one.
    assert_stored_once(db, processes as i64 + 1).await;
}

async fn concurrent_cli_deploys_all_succeed(db: &TestDb) {
    // A fresh database: the processes also race to migrate it.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("ticket.pdca"), TICKET).expect("write definitions");
    let children: Vec<_> = (0..RACERS)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_pdca"))
                .args(["deploy", "--db", &db.url, "--processes"])
                .arg(dir.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run pdca deploy")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait for pdca deploy");
        assert!(
            out.status.success(),
            "pdca deploy failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_stored_once(db, variant("Ticket").processes.len() as i64).await;
}
