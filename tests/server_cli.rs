//! The command-line pieces made for the server: `pdca token new` and the
//! keyset paging of `pdca instance list --limit N --after ID`.

mod runtime_support;

use std::process::{Command, Output};

use runtime_support::TICKET;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_pdca");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run pdca")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn token_new_prints_the_token_once_and_its_entry() {
    let out = run(&[
        "token",
        "new",
        "--actor",
        "alice",
        "--roles",
        "service_desk,resolver",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let s = text(&out);
    let token = s
        .lines()
        .find(|l| l.starts_with("pdca_"))
        .expect("a token line");
    assert_eq!(
        s.matches(token).count(),
        1,
        "the token is printed once: {s}"
    );
    let entry = &s[s.find("[[token]]").expect("an entry")..];
    let parsed: toml::Table = toml::from_str(entry).expect("the entry is TOML");
    let first = &parsed["token"][0];
    assert_eq!(
        first["sha256"].as_str(),
        Some(pdca::server::auth::hash_token(token).as_str())
    );
    assert_eq!(first["actor"].as_str(), Some("alice"));
    assert_eq!(first["roles"].as_array().map(Vec::len), Some(2), "{entry}");

    let again = run(&["token", "new", "--actor", "alice"]);
    assert_ne!(text(&again), s, "every token is fresh");

    let bad = run(&["token", "new", "--actor", " "]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn instance_list_pages_with_limit_and_after() {
    let dir = tempfile::tempdir().expect("temp dir");
    let procs = dir.path().join("processes");
    std::fs::create_dir(&procs).expect("mkdir");
    std::fs::write(procs.join("ticket.pdca"), TICKET).expect("write");
    let db = format!("sqlite://{}", dir.path().join("pdca.db").display());
    let procs = procs.display().to_string();
    let common = ["--db", db.as_str(), "--processes", procs.as_str()];
    let deploy = run(&[&["deploy"], &common[..]].concat());
    assert_eq!(deploy.status.code(), Some(0));
    for _ in 0..3 {
        let start = run(&[
            &[
                "instance",
                "start",
                "ticket",
                "--as",
                "alice:service_desk",
                "--set",
                "summary=s",
                "--set",
                "reported_by=r",
                "--set",
                "impact=low",
                "--set",
                "urgency=low",
            ],
            &common[..],
        ]
        .concat());
        assert_eq!(
            start.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&start.stderr)
        );
    }
    let page = run(&[&["instance", "list", "--limit", "2"], &common[..]].concat());
    let s = text(&page);
    assert!(s.contains("2 instances"), "{s}");
    assert!(s.contains("next: --after 2"), "{s}");

    let json = |args: &[&str]| -> Value {
        let out = run(&[&["instance", "list", "--format", "json"], args, &common[..]].concat());
        assert_eq!(out.status.code(), Some(0));
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let ids = |v: &Value| -> Vec<i64> {
        v["instances"]
            .as_array()
            .expect("instances")
            .iter()
            .filter_map(|i| i["id"].as_i64())
            .collect()
    };
    let first = json(&["--limit", "2"]);
    assert_eq!((ids(&first), first["next"].as_i64()), (vec![1, 2], Some(2)));
    let second = json(&["--limit", "2", "--after", "2"]);
    assert_eq!((ids(&second), second["next"].as_i64()), (vec![3], None));
    let last = run(&[&["instance", "list", "--after", "3"], &common[..]].concat());
    assert!(!text(&last).contains("next:"), "{}", text(&last));
    let bad = run(&[&["instance", "list", "--limit", "0"], &common[..]].concat());
    assert_eq!(bad.status.code(), Some(2));
}
