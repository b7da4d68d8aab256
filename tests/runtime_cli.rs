//! The runtime commands on the real binary, against a temp SQLite file and
//! the reference processes: deploy, instance start/fire/show/history/list,
//! audit verify, and their exit codes (0 ok, 1 refused or tampered,
//! 2 usage, I/O or database unreachable).

mod runtime_support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

struct Cli {
    dir: tempfile::TempDir,
    db: String,
}

impl Cli {
    fn new() -> Cli {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = format!("sqlite://{}", dir.path().join("pdca.db").display());
        Cli { dir, db }
    }

    /// Runs `pdca ARGS --db DB --processes <repo>/processes`.
    fn run(&self, args: &[&str]) -> Output {
        let processes = Path::new(env!("CARGO_MANIFEST_DIR")).join("processes");
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        if !args.contains(&"--db") {
            all.extend(["--db".to_string(), self.db.clone()]);
        }
        if !args.contains(&"--processes") {
            all.push("--processes".to_string());
            all.push(processes.to_string_lossy().into_owned());
        }
        Command::new(env!("CARGO_BIN_EXE_pdca"))
            .args(&all)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("run pdca")
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let out = self.run(&all);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", stdout(&out)))
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const INCIDENT: &[&str] = &[
    "instance",
    "start",
    "incident",
    "--as",
    "alice:service_desk",
    "--set",
    "summary=Printer on fire",
    "--set",
    "reported_by=bob",
    "--set",
    "impact=high",
    "--set",
    "urgency=high",
    "--set",
    "major=false",
];

#[test]
fn deploy_twice_then_drive_an_incident() {
    let cli = Cli::new();
    let first = cli.json(&["deploy"]);
    let processes = first["processes"].as_array().expect("processes");
    assert!(processes.len() > 20, "the reference library");
    assert!(processes.iter().all(|p| p["status"] == "created"));
    let incident = processes
        .iter()
        .find(|p| p["process"] == "incident")
        .expect("incident");
    assert_eq!(incident["version"], 1);

    let second = cli.run(&["deploy"]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let text = stdout(&second);
    assert!(
        text.contains(" 0 created, 0 updated, 0 reactivated,"),
        "{text}"
    );
    assert!(text.contains("unchanged"), "{text}");

    let mut start = INCIDENT.to_vec();
    start.extend(["--format", "json"]);
    let out = cli.run(&start);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = v["id"].as_i64().expect("id");
    assert_eq!(v["state"], "logged");
    // start, then the `critical` escalation (priority P1).
    assert_eq!(v["revision"], 2);
    assert_eq!(v["record"]["priority"], "P1", "derived from high x high");
    assert_eq!(v["record"]["major"], false, "--set converts by type");
    assert_eq!(v["record"]["channel"], "portal", "default");
    let id_text = id.to_string();

    let fired = cli.json(&[
        "instance",
        "fire",
        &id_text,
        "classify",
        "--as",
        "alice:service_desk",
        "--set",
        "category=hardware",
        "--revision",
        "2",
    ]);
    assert_eq!(fired["state"], "classified");
    assert_eq!(fired["revision"], 3);

    // Fields from a JSON file, `--set` on top.
    let patch = cli.dir.path().join("patch.json");
    std::fs::write(
        &patch,
        r#"{"work_log": "rebooted the printer", "assignment_group": "x"}"#,
    )
    .expect("write");
    let fired = cli.json(&[
        "instance",
        "fire",
        &id_text,
        "start",
        "--as",
        "carol:resolver",
        "--json",
        patch.to_str().expect("path"),
        "--set",
        "assignment_group=field services",
    ]);
    assert_eq!(fired["state"], "in_progress");
    assert_eq!(fired["record"]["assignment_group"], "field services");
    assert_eq!(fired["record"]["work_log"][0]["actor"], "carol");

    let shown = cli.json(&["instance", "show", &id_text]);
    assert_eq!(shown["id"], id);
    assert_eq!(shown["revision"], 4);
    assert_eq!(shown["version"], 1);
    assert_eq!(shown["escalations"][0]["name"], "critical");
    assert!(shown["next"]
        .as_array()
        .expect("next")
        .iter()
        .any(|t| t == "resolve"));

    let history = cli.json(&["instance", "history", &id_text]);
    let events = history["events"].as_array().expect("events");
    assert_eq!(events.len(), 4);
    assert_eq!(events[0]["kind"], "start");
    assert_eq!(events[1]["kind"], "escalation");
    assert_eq!(events[1]["actor"], "system:escalation");
    assert_eq!(events[2]["transition"], "classify");
    assert_eq!(events[2]["patch"]["category"], "hardware");
    assert_eq!(events[3]["prev_hash"], events[2]["hash"]);

    let human = cli.run(&["instance", "history", &id_text]);
    assert_eq!(human.status.code(), Some(0));
    assert!(
        stdout(&human).contains("classify: logged -> classified"),
        "{}",
        stdout(&human)
    );

    let list = cli.json(&["instance", "list", "--process", "incident"]);
    assert_eq!(list["instances"].as_array().map(Vec::len), Some(1));
    let none = cli.json(&["instance", "list", "--state", "closed"]);
    assert_eq!(none["instances"].as_array().map(Vec::len), Some(0));

    let verify = cli.run(&["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
    assert!(
        stdout(&verify).contains("OK: 1 instance, 4 events verified"),
        "{}",
        stdout(&verify)
    );
    let verify = cli.json(&["audit", "verify"]);
    assert_eq!(verify["ok"], true);
}

#[test]
fn refusals_exit_1_and_change_nothing() {
    let cli = Cli::new();
    // Nothing deployed yet: start deploys nothing implicitly.
    let out = cli.run(INCIDENT);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("not deployed"), "{}", stderr(&out));
    assert!(stderr(&out).contains("pdca deploy"), "{}", stderr(&out));

    assert_eq!(cli.run(&["deploy"]).status.code(), Some(0));
    let v = cli.json(INCIDENT);
    let id = v["id"].as_i64().expect("id").to_string();

    let cases: &[(&[&str], &str)] = &[
        (
            &["instance", "fire", &id, "clasify", "--as", "a:service_desk"],
            "no transition `clasify`",
        ),
        (
            &["instance", "fire", &id, "close", "--as", "a:service_desk"],
            "not allowed from state `logged`",
        ),
        (
            &["instance", "fire", &id, "classify", "--as", "a:resolver"],
            "needs one of the roles `service_desk`",
        ),
        (
            &[
                "instance",
                "fire",
                &id,
                "classify",
                "--as",
                "a:service_desk",
            ],
            "missing required field `category`",
        ),
        (
            &[
                "instance",
                "fire",
                &id,
                "classify",
                "--as",
                "a:service_desk",
                "--set",
                "category=food",
                "--set",
                "impct=low",
            ],
            "did you mean `impact`",
        ),
        (
            &[
                "instance",
                "fire",
                &id,
                "classify",
                "--as",
                "a:service_desk",
                "--set",
                "category=hardware",
                "--revision",
                "7",
            ],
            "expected revision 7, it is at revision 2",
        ),
        (
            &[
                "instance",
                "fire",
                "999",
                "classify",
                "--as",
                "a:service_desk",
            ],
            "no instance with id 999",
        ),
        (&["instance", "show", "999"], "no instance with id 999"),
        (
            &["instance", "start", "incident", "--as", "a:nobody"],
            "may not start `incident`",
        ),
    ];
    for (args, message) in cases {
        let out = cli.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }

    // Machine-readable errors.
    let out = cli.run(&[
        "instance",
        "fire",
        &id,
        "classify",
        "--as",
        "a:service_desk",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err: Value = serde_json::from_str(stderr(&out).trim()).expect("json error");
    assert_eq!(err["error"], "missing_fields");

    let shown = cli.json(&["instance", "show", &id]);
    assert_eq!(shown["revision"], 2, "refusals changed nothing");
    let history = cli.json(&["instance", "history", &id]);
    assert_eq!(history["events"].as_array().map(Vec::len), Some(2));
}

#[test]
fn usage_and_database_errors_exit_2() {
    let cli = Cli::new();
    assert_eq!(cli.run(&["deploy"]).status.code(), Some(0));
    let cases: &[&[&str]] = &[
        &[
            "instance",
            "start",
            "incident",
            "--as",
            "alice:service_desk",
            "--set",
            "summary",
        ],
        &["instance", "start", "incident"],
        &[
            "instance",
            "fire",
            "not-a-number",
            "classify",
            "--as",
            "a:b",
        ],
        &["instance", "start", "incident", "--as", ":service_desk"],
        &[
            "instance",
            "start",
            "incident",
            "--as",
            "a:b",
            "--json",
            "missing.json",
        ],
    ];
    for args in cases {
        let out = cli.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let out = cli.run(&["instance", "list", "--db", "mysql://x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unsupported database url"),
        "{}",
        stderr(&out)
    );
    let out = cli.run(&["audit", "verify", "--db", "postgres://nobody@127.0.0.1:1/x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));
    let out = cli.run(&["deploy", "--processes", "no-such-folder"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn audit_verify_exits_1_on_tampering() {
    let cli = Cli::new();
    assert_eq!(cli.run(&["deploy"]).status.code(), Some(0));
    let v = cli.json(INCIDENT);
    let id = v["id"].as_i64().expect("id");
    let fired = cli.run(&[
        "instance",
        "fire",
        &id.to_string(),
        "classify",
        "--as",
        "a:service_desk",
        "--set",
        "category=network",
    ]);
    assert_eq!(fired.status.code(), Some(0), "{}", stderr(&fired));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        use sqlx::{AssertSqlSafe, Connection};
        let mut conn = sqlx::SqliteConnection::connect(&cli.db).await.expect("connect");
        for sql in [
            "DROP TRIGGER events_no_update".to_string(),
            format!(
                "UPDATE events SET patch = '{{\"category\":\"software\"}}' WHERE instance_id = {id} AND seq = 2"
            ),
        ] {
            sqlx::query(AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .expect("tamper");
        }
        let _ = conn.close().await;
    });

    let out = cli.run(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "instance {id} (incident), event seq 2: event seq 2 was altered"
        )),
        "{text}"
    );
    let out = cli.run(&["audit", "verify", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["ok"], false);
    assert_eq!(report["problems"][0]["instance"], id);
    assert_eq!(report["problems"][0]["seq"], 2);
    assert_eq!(report["problems"][0]["kind"], "altered");
}

#[test]
fn approve_a_service_request_from_the_command_line() {
    let cli = Cli::new();
    cli.json(&["deploy"]);
    let started = cli.json(&[
        "instance",
        "start",
        "service_request",
        "--as",
        "sam:service_desk,line_manager",
        "--set",
        "summary=New laptop",
        "--set",
        "requested_for=bob",
        "--set",
        "needs_approval=true",
    ]);
    let id = started["id"].as_i64().expect("id").to_string();
    let classified = cli.json(&[
        "instance",
        "fire",
        &id,
        "classify",
        "--as",
        "sam:service_desk",
        "--set",
        "request_type=hardware",
        "--set",
        "request_model=standard laptop",
        "--set",
        "priority=P3",
    ]);
    assert_eq!(classified["state"], "classified");
    let waiting = cli.json(&[
        "instance",
        "fire",
        &id,
        "request_approval",
        "--as",
        "sam:service_desk,line_manager",
    ]);
    assert_eq!(waiting["state"], "awaiting_approval");
    assert_eq!(waiting["approvals"][0]["name"], "authorise");
    assert_eq!(waiting["approvals"][0]["requester"], "sam");

    // The requester may not approve, even holding an approver role: exit 1.
    let own = cli.run(&[
        "instance",
        "approve",
        &id,
        "authorise",
        "--as",
        "sam:line_manager",
        "--format",
        "json",
    ]);
    assert_eq!(own.status.code(), Some(1), "{}", stderr(&own));
    let err: Value = serde_json::from_str(stderr(&own).trim()).expect("json error");
    assert_eq!(err["error"], "requester_may_not_decide");

    let show = cli.run(&["instance", "show", &id]);
    assert!(
        stdout(&show).contains("approval `authorise` open"),
        "{}",
        stdout(&show)
    );

    let approved = cli.json(&[
        "instance",
        "approve",
        &id,
        "authorise",
        "--as",
        "lena:line_manager",
        "--comment",
        "within budget",
        "--revision",
        "3",
    ]);
    assert_eq!(approved["state"], "in_fulfilment", "quorum any");
    assert_eq!(approved["revision"], 5);

    let history = cli.json(&["instance", "history", &id]);
    let events = history["events"].as_array().expect("events");
    assert_eq!(events[3]["kind"], "decision");
    assert_eq!(events[3]["patch"]["comment"], "within budget");
    assert_eq!(events[4]["kind"], "approved");

    let verify = cli.run(&["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
}

/// `pdca outbox` lists the notifications rendered when an instance enters a
/// state with `on enter … notify`, once per role, and `--pending` filters.
#[test]
fn outbox_lists_rendered_notifications() {
    let cli = Cli::new();
    let defs = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/runtime_support/outbox.pdca"),
        defs.path().join("outbox.pdca"),
    )
    .expect("copy definition");
    let processes = defs.path().to_str().expect("utf-8 path");
    let empty = cli.json(&["outbox"]);
    assert_eq!(empty, serde_json::json!([]));
    cli.json(&["deploy", "--processes", processes]);
    let started = cli.json(&[
        "instance",
        "start",
        "case",
        "--as",
        "ann:agent",
        "--set",
        "summary=Broken laptop",
        "--set",
        "priority=P2",
    ]);
    let id = started["id"].as_i64().expect("id").to_string();
    cli.json(&["instance", "fire", &id, "submit", "--as", "ann:agent"]);
    let rows = cli.json(&["outbox", "--pending"]);
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let text = serde_json::to_string(rows).expect("json");
    assert!(text.contains("Broken laptop"), "{text}");
    assert!(
        text.contains("lead") && text.contains("requester"),
        "{text}"
    );
    let human = cli.run(&["outbox"]);
    assert_eq!(human.status.code(), Some(0));
    assert!(
        stdout(&human).contains("Broken laptop"),
        "{}",
        stdout(&human)
    );
}

/// Text with a NUL character is refused over the CLI as over the API, on
/// SQLite and on PostgreSQL (which cannot store it), changing nothing.
#[test]
fn text_with_a_nul_character_is_refused_on_both_backends() {
    let cli = Cli::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let pg = rt.block_on(runtime_support::TestDb::postgres("cli_nul"));
    let mut dbs = vec![cli.db.clone()];
    dbs.extend(pg.as_ref().map(|db| db.url.clone()));
    let fields = cli.dir.path().join("fields.json");
    std::fs::write(
        &fields,
        r#"{"summary": "Printer\u0000on fire", "reported_by": "bob", "impact": "high", "urgency": "high"}"#,
    )
    .expect("write");
    let fields = fields.to_string_lossy().into_owned();
    for db in &dbs {
        let deployed = cli.run(&["deploy", "--db", db]);
        assert_eq!(deployed.status.code(), Some(0), "{}", stderr(&deployed));
        let out = cli.run(&[
            "instance",
            "start",
            "incident",
            "--as",
            "alice:service_desk",
            "--json",
            &fields,
            "--db",
            db,
        ]);
        assert_eq!(out.status.code(), Some(1), "{db}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("`summary`") && err.contains("NUL"), "{err}");
        let listed = cli.json(&["instance", "list", "--db", db]);
        assert_eq!(listed["instances"], serde_json::json!([]), "{listed}");
    }
}
