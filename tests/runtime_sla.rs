//! SLA time and record semantics on SQLite and on PostgreSQL (issue 11):
//! plain and business targets in one SLA each count their own metric;
//! clocks keep exact elapsed time across state entries (and across the
//! upgrade from schema 6); an empty or whitespace-only text is unset for
//! `required`; `tick` stamps what it writes with its logical time; RFC 3339
//! inputs refuse offsets that do not exist.

mod runtime_support;
mod server_support;

use std::path::Path;
use std::process::{Command, Output};

use jiff::{SignedDuration, Timestamp};
use pdca::runtime::store::Store;
use pdca::runtime::{Actor, Engine, RuntimeError};
use runtime_support::{clocks_program, metrics_program, timers_program, TestDb};
use serde_json::{json, Value};
use server_support::{who, TestServer};

on_both_backends!(
    plain_target_counts_wall_clock_time_in_a_calendar_sla,
    business_target_counts_working_time_in_the_same_sla,
    tick_warns_and_breaches_in_each_targets_metric,
    retargeting_to_the_other_metric_keeps_elapsed_time,
    self_loops_keep_exact_elapsed_time,
    a_version_6_database_keeps_its_running_clocks,
    empty_text_is_unset_for_required,
    empty_text_is_unset_for_required_over_the_api,
    tick_stamps_events_with_its_logical_time,
    invalid_offsets_are_refused_over_the_api,
    cli_tick_and_clocks_on_the_reference_incident,
);

fn agent() -> Actor {
    Actor::new("ann", &["agent"])
}

fn ts(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

fn text(t: Timestamp) -> String {
    format!("{t:.6}")
}

async fn engine(db: &TestDb, program: &pdca::ir::Program) -> Engine {
    let e = match Engine::connect(&db.url).await {
        Ok(e) => e,
        Err(e) => panic!("connect {}: {e}", db.url),
    };
    e.deploy(program).await.expect("deploy");
    e
}

/// Starts a `case` of `metrics.pdca` and moves its running segment (and
/// its due time, so that `tick` finds it) to `at`, as if it had started
/// then.
async fn case_started_at(db: &TestDb, e: &Engine, priority: &str, at: &str) -> i64 {
    let v = e
        .start(
            "case",
            &agent(),
            &json!({ "summary": "Mail down", "priority": priority }),
        )
        .await
        .expect("start");
    db.exec(&[&format!(
        "UPDATE clocks SET started_at = '{at}', segment_started_at = '{at}', due_at = '{at}', \
         warn_at = NULL WHERE instance_id = {}",
        v.id
    )])
    .await;
    v.id
}

// Saturday 2026-03-07, 01:16 UTC: outside the calendar's working hours.
const SATURDAY_NIGHT: &str = "2026-03-07T01:16:00.000000Z";

async fn plain_target_counts_wall_clock_time_in_a_calendar_sla(db: &TestDb) {
    let e = engine(db, &metrics_program()).await;
    let id = case_started_at(db, &e, "P1", SATURDAY_NIGHT).await;
    let c = e
        .clocks(id, ts("2026-03-07T01:26:30Z"))
        .await
        .expect("clocks");
    assert_eq!(c[0].metric, "wall", "{c:?}");
    assert_eq!(c[0].target_minutes, 15);
    assert_eq!((c[0].elapsed_minutes, c[0].elapsed_seconds), (10, 630));
    assert_eq!((c[0].remaining_minutes, c[0].remaining_seconds), (5, 270));
    // Due 15 wall-clock minutes after the start, on a Saturday night (not
    // at 09:15 on Monday).
    assert_eq!(
        c[0].due_at.as_deref(),
        Some("2026-03-07T01:31:00.000000Z"),
        "{c:?}"
    );
    let later = e
        .clocks(id, ts("2026-03-07T01:31:00Z"))
        .await
        .expect("clocks");
    assert!(later[0].breached, "{later:?}");
    assert_eq!(later[0].remaining_seconds, 0);
}

async fn business_target_counts_working_time_in_the_same_sla(db: &TestDb) {
    let e = engine(db, &metrics_program()).await;
    let id = case_started_at(db, &e, "P2", SATURDAY_NIGHT).await;
    let c = e
        .clocks(id, ts("2026-03-09T09:20:00Z"))
        .await
        .expect("clocks");
    assert_eq!(c[0].metric, "business", "{c:?}");
    assert_eq!(c[0].target_minutes, 60);
    assert_eq!(c[0].elapsed_minutes, 20, "{c:?}");
    assert!(!c[0].breached);
    assert_eq!(
        c[0].due_at.as_deref(),
        Some("2026-03-09T10:00:00.000000Z"),
        "{c:?}"
    );
}

async fn tick_warns_and_breaches_in_each_targets_metric(db: &TestDb) {
    let e = engine(db, &metrics_program()).await;
    let p1 = case_started_at(db, &e, "P1", SATURDAY_NIGHT).await;
    let p2 = case_started_at(db, &e, "P2", SATURDAY_NIGHT).await;
    // A tick before anything is due schedules the moved clocks' warnings.
    let r = e.tick(ts("2026-03-07T01:20:00Z")).await.expect("tick");
    assert!(r.warned.is_empty() && r.breached.is_empty(), "{r:?}");
    // Half of P1's 15 wall-clock minutes, rounded up to a minute: 01:24.
    let r = e.tick(ts("2026-03-07T01:25:00Z")).await.expect("tick");
    let warned: Vec<(i64, &str)> = r
        .warned
        .iter()
        .map(|w| (w.instance, w.due_at.as_str()))
        .collect();
    assert_eq!(warned, vec![(p1, "2026-03-07T01:24:00.000000Z")], "{r:?}");
    assert!(r.breached.is_empty(), "{r:?}");
    let r = e.tick(ts("2026-03-07T02:00:00Z")).await.expect("tick");
    let breached: Vec<(i64, &str)> = r
        .breached
        .iter()
        .map(|b| (b.instance, b.due_at.as_str()))
        .collect();
    assert_eq!(breached, vec![(p1, "2026-03-07T01:31:00.000000Z")], "{r:?}");
    // P2 counts working time: nothing happens before Monday morning.
    let r = e.tick(ts("2026-03-09T09:29:00Z")).await.expect("tick");
    assert!(r.warned.is_empty() && r.breached.is_empty(), "{r:?}");
    let r = e.tick(ts("2026-03-09T10:00:00Z")).await.expect("tick");
    assert_eq!(
        r.warned.iter().map(|w| w.instance).collect::<Vec<_>>(),
        vec![p2],
        "{r:?}"
    );
    assert_eq!(
        r.breached.iter().map(|b| b.instance).collect::<Vec<_>>(),
        vec![p2],
        "{r:?}"
    );
    assert!(e.verify().await.expect("verify").ok);
}

async fn retargeting_to_the_other_metric_keeps_elapsed_time(db: &TestDb) {
    // clocks.pdca: P1 4h (wall-clock), P2 16 business hours.
    let e = engine(db, &clocks_program()).await;
    let v = e
        .start(
            "case",
            &agent(),
            &json!({ "summary": "Broken", "priority": "P2" }),
        )
        .await
        .expect("start");
    // The finished segments hold 3 hours of wall-clock time, none of it
    // working time (a night).
    db.exec(&[&format!(
        "UPDATE clocks SET wall_us = 10800000000, business_us = 0, segment_started_at = '{}' \
         WHERE instance_id = {}",
        text(Timestamp::now()),
        v.id
    )])
    .await;
    let before = e.clocks(v.id, Timestamp::now()).await.expect("clocks");
    assert_eq!(
        (before[0].metric.as_str(), before[0].elapsed_minutes),
        ("business", 0),
        "{before:?}"
    );
    e.fire(v.id, "bump", &agent(), &json!({ "priority": "P1" }), None)
        .await
        .expect("bump");
    let after = e.clocks(v.id, Timestamp::now()).await.expect("clocks");
    assert_eq!(after[0].metric, "wall", "{after:?}");
    assert_eq!(after[0].target_minutes, 240);
    // The 3 wall-clock hours count towards the wall-clock target.
    assert!((180..185).contains(&after[0].elapsed_minutes), "{after:?}");
}

async fn self_loops_keep_exact_elapsed_time(db: &TestDb) {
    // clocks.pdca: P1 4h counts wall-clock time; `bump` is a self-loop.
    let e = engine(db, &clocks_program()).await;
    let v = e
        .start(
            "case",
            &agent(),
            &json!({ "summary": "Broken", "priority": "P1" }),
        )
        .await
        .expect("start");
    // Three segments, each begun 55.25 s before the self-loop that ends it.
    let mut expected = SignedDuration::ZERO;
    for _ in 0..3 {
        // (as stored: to the microsecond)
        let begun = ts(&text(
            Timestamp::now() - SignedDuration::from_millis(55_250),
        ));
        db.exec(&[&format!(
            "UPDATE clocks SET segment_started_at = '{}' WHERE instance_id = {}",
            text(begun),
            v.id
        )])
        .await;
        e.fire(v.id, "bump", &agent(), &json!({}), None)
            .await
            .expect("bump");
        let h = e.history(v.id).await.expect("history");
        let fired = ts(&h.last().expect("events").at);
        expected += fired.duration_since(begun);
    }
    let h = e.history(v.id).await.expect("history");
    let last = ts(&h.last().expect("events").at);
    let c = e.clocks(v.id, last).await.expect("clocks");
    assert_eq!(c[0].metric, "wall");
    assert_eq!(c[0].elapsed_seconds, expected.as_secs(), "{c:?}");
    assert!(c[0].elapsed_seconds >= 165, "{c:?}");
    // The breach is due when the exact remainder has elapsed.
    let due = ts(c[0].due_at.as_deref().expect("due"));
    assert_eq!(
        due.duration_since(last),
        SignedDuration::from_hours(4) - expected,
        "{c:?}"
    );
}

async fn a_version_6_database_keeps_its_running_clocks(db: &TestDb) {
    let program = clocks_program();
    let process = program
        .processes
        .iter()
        .find(|p| p.name == "case")
        .expect("case");
    let ir = serde_json::to_string(process)
        .expect("ir")
        .replace('\'', "''");
    // A database as pdca with schema 6 left it: a P2 case whose clock has
    // 7 minutes from earlier segments and runs since Friday 10:00.
    let old = Store::connect_at_version(&db.url, 6)
        .await
        .expect("schema 6");
    old.close().await;
    db.exec(&[
        &format!(
            "INSERT INTO definitions (id, process, version, hash, ir, active, deployed_at) \
             VALUES (1, 'case', 1, '{}', '{ir}', TRUE, '2026-03-06T08:00:00.000000Z')",
            process.hash
        ),
        "INSERT INTO instances (id, process, definition_id, state, record, revision, created_at, \
         updated_at) VALUES (1, 'case', 1, 'open', '{\"summary\":\"Old\",\"priority\":\"P2\"}', 3, \
         '2026-03-06T09:00:00.000000Z', '2026-03-06T10:00:00.000000Z')",
        "INSERT INTO clocks (instance_id, sla, status, started_at, accumulated, \
         segment_started_at, target, due_at, warn_at, warned, breached) VALUES \
         (1, 'resolution', 'running', '2026-03-06T09:00:00.000000Z', 7, \
         '2026-03-06T10:00:00.000000Z', 960, '2026-03-09T10:53:00.000000Z', NULL, 0, 0)",
    ])
    .await;
    let e = match Engine::connect(&db.url).await {
        Ok(e) => e,
        Err(e) => panic!("upgrade {}: {e}", db.url),
    };
    let c = e
        .clocks(1, ts("2026-03-06T10:30:30Z"))
        .await
        .expect("clocks");
    assert_eq!(c[0].metric, "business", "{c:?}");
    // 7 minutes before, 30 min 30 s in the running segment.
    assert_eq!(c[0].elapsed_seconds, 7 * 60 + 30 * 60 + 30, "{c:?}");
    assert_eq!(c[0].target_minutes, 960);
    assert_eq!(
        c[0].due_at.as_deref(),
        // 953 working minutes from Friday 10:00: 420 on Friday, 480 on
        // Monday, 53 on Tuesday.
        Some("2026-03-10T09:53:00.000000Z"),
        "{c:?}"
    );
}

async fn empty_text_is_unset_for_required(db: &TestDb) {
    let e = engine(db, &metrics_program()).await;
    for blank in ["", "   ", "\t\n"] {
        let r = e
            .start(
                "case",
                &agent(),
                &json!({ "summary": blank, "priority": "P1" }),
            )
            .await;
        match r {
            Err(RuntimeError::MissingFields { fields, .. }) => {
                assert_eq!(fields, vec!["summary".to_string()], "{blank:?}")
            }
            other => panic!("{blank:?}: {other:?}"),
        }
    }
    let v = e
        .start(
            "case",
            &agent(),
            &json!({ "summary": "Mail down", "priority": "P1" }),
        )
        .await
        .expect("start");
    // `required at done`: an empty text does not satisfy it either.
    let r = e
        .fire(v.id, "finish", &agent(), &json!({ "org_id": " " }), None)
        .await;
    assert!(
        matches!(&r, Err(RuntimeError::MissingFields { fields, .. }) if fields == &["org_id"]),
        "{r:?}"
    );
    // Nor can a required field be emptied on the way.
    let r = e
        .fire(v.id, "bump", &agent(), &json!({ "summary": "" }), None)
        .await;
    assert!(
        matches!(&r, Err(RuntimeError::MissingFields { fields, .. }) if fields == &["summary"]),
        "{r:?}"
    );
    let shown = e.show(v.id).await.expect("show");
    assert_eq!(shown.revision, 1, "refusals changed nothing: {shown:?}");
    e.fire(v.id, "finish", &agent(), &json!({ "org_id": "ACME" }), None)
        .await
        .expect("finish");
}

async fn empty_text_is_unset_for_required_over_the_api(db: &TestDb) {
    let s = TestServer::start(db).await;
    let start = |summary: &str| {
        json!({
            "process": "ticket",
            "record": {"summary": summary, "reported_by": "dan", "impact": "high", "urgency": "high"}
        })
    };
    for blank in ["", "  "] {
        let a = s.post("/instances", who("desk"), &start(blank)).await;
        assert_eq!(a.status, 422, "{blank:?}: {}", a.text);
        assert_eq!(a.code(), "missing_fields", "{}", a.text);
        assert!(a.text.contains("summary"), "{}", a.text);
    }
    let id = s.start_ticket().await;
    // `summary` is `required`: it cannot be blanked on the way.
    let a = s
        .post(
            &format!("/instances/{id}/transitions/triage"),
            who("desk"),
            &json!({ "patch": { "category": "hardware", "summary": " " } }),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.text);
    assert_eq!(a.code(), "missing_fields", "{}", a.text);
    assert!(a.text.contains("summary"), "{}", a.text);
    s.stop().await;
}

async fn tick_stamps_events_with_its_logical_time(db: &TestDb) {
    // timers.pdca: `remind` fires 2 business days after the start.
    let e = engine(db, &timers_program()).await;
    let v = e
        .start("request", &agent(), &json!({ "summary": "Call back" }))
        .await
        .expect("start");
    let far = Timestamp::now() + SignedDuration::from_hours(24 * 30);
    let r = e.tick(far).await.expect("tick");
    assert_eq!(r.fired.len(), 1, "{r:?}");
    let h = e.history(v.id).await.expect("history");
    let last = h.last().expect("events");
    assert_eq!(last.transition.as_deref(), Some("remind"));
    assert_eq!(last.at, text(far), "{h:?}");
    let shown = e.show(v.id).await.expect("show");
    assert_eq!(shown.updated_at, text(far));
    assert!(e.verify().await.expect("verify").ok);
}

async fn invalid_offsets_are_refused_over_the_api(db: &TestDb) {
    let s = TestServer::start(db).await;
    let body = |seen_at: &str| {
        json!({
            "process": "ticket",
            "record": {"summary": "Printer", "reported_by": "dan", "impact": "high",
                       "urgency": "high", "seen_at": seen_at}
        })
    };
    for bad in ["2026-03-02T09:00:00+25:00", "2026-03-02T09:00:00-24:00"] {
        let a = s.post("/instances", who("desk"), &body(bad)).await;
        assert_eq!(a.status, 422, "{bad}: {}", a.text);
        assert_eq!(a.code(), "invalid_fields", "{}", a.text);
        assert!(a.text.contains("-23:59 and +23:59"), "{}", a.text);
    }
    let a = s
        .post(
            "/instances",
            who("desk"),
            &body("2026-03-02T09:00:00+23:00"),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let v: Value = a.json();
    assert_eq!(v["record"]["seen_at"], "2026-03-02T09:00:00+23:00");
    s.stop().await;
}

/// Runs the real binary with `--db` and the reference processes.
fn pdca(db: &TestDb, args: &[&str]) -> Output {
    let processes = Path::new(env!("CARGO_MANIFEST_DIR")).join("processes");
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    if args.first().is_some_and(|a| *a != "calendar") {
        all.extend(["--db".to_string(), db.url.clone()]);
    }
    if args.first() == Some(&"deploy") {
        all.push("--processes".to_string());
        all.push(processes.to_string_lossy().into_owned());
    }
    Command::new(env!("CARGO_BIN_EXE_pdca"))
        .args(&all)
        .env("NO_COLOR", "1")
        .output()
        .expect("run pdca")
}

fn json_of(db: &TestDb, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = pdca(db, &all);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", err(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e})"))
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `processes/incident.pdca`: `P1 15 min` (response) and `P1 4h`
/// (resolution) run around the clock although the SLAs name a calendar;
/// `tick --now T` breaches at T and stamps its events T; bad input is
/// refused.
async fn cli_tick_and_clocks_on_the_reference_incident(db: &TestDb) {
    let out = pdca(db, &["deploy"]);
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    let start = [
        "instance",
        "start",
        "incident",
        "--as",
        "alice:service_desk",
        "--set",
        "summary=Mail down",
        "--set",
        "reported_by=bob",
        "--set",
        "impact=high",
        "--set",
        "urgency=high",
        "--set",
        "major=false",
    ];
    // `--set summary=` stores an empty text: not a summary.
    let mut blank = start.to_vec();
    blank[6] = "summary=";
    let out = pdca(db, &blank);
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    assert!(err(&out).contains("summary"), "{}", err(&out));
    let v = json_of(db, &start);
    let id = v["id"].as_i64().expect("id").to_string();
    let created = ts(v["created_at"].as_str().expect("created_at"));
    let t = created + SignedDuration::from_mins(16);
    let t_text = text(t);
    let clocks = json_of(db, &["instance", "clocks", &id, "--now", &t_text]);
    let response = clocks["clocks"]
        .as_array()
        .expect("clocks")
        .iter()
        .find(|c| c["sla"] == "response")
        .cloned()
        .expect("response clock");
    assert_eq!(response["metric"], "wall", "{clocks}");
    assert_eq!(response["target_minutes"], 15);
    assert_eq!(response["breached"], true, "{clocks}");
    let human = pdca(db, &["instance", "clocks", &id, "--now", &t_text]);
    let shown = String::from_utf8_lossy(&human.stdout).into_owned();
    assert!(
        shown.contains("response: running (breached) elapsed 16m of 15m wall-clock time"),
        "{shown}"
    );

    let report = json_of(db, &["tick", "--now", &t_text]);
    let breached: Vec<&str> = report["breached"]
        .as_array()
        .expect("breached")
        .iter()
        .filter(|b| b["instance"].as_i64().map(|i| i.to_string()) == Some(id.clone()))
        .filter_map(|b| b["sla"].as_str())
        .collect();
    assert_eq!(breached, vec!["response"], "{report}");
    let history = json_of(db, &["instance", "history", &id]);
    let events = history["events"].as_array().expect("events");
    let by_tick: Vec<&Value> = events
        .iter()
        .filter(|e| e["actor"] == "system:clock")
        .collect();
    assert!(!by_tick.is_empty(), "{history}");
    for e in by_tick {
        assert_eq!(e["at"], t_text.as_str(), "{e}");
    }

    for args in [
        &["tick", "--now", "2026-03-02T09:00:00+25:00"][..],
        &[
            "instance",
            "clocks",
            &id,
            "--now",
            "2026-03-02T09:00:00+25:00",
        ][..],
        &[
            "calendar",
            "add",
            "office_hours",
            "2026-11-20T15:00+25:00",
            "1h",
        ][..],
    ] {
        let out = pdca(db, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", err(&out));
        assert!(
            err(&out).contains("-23:59 and +23:59"),
            "{args:?}: {}",
            err(&out)
        );
    }
    let help = pdca(db, &["tick", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    for duty in [
        "timer",
        "approval timeouts",
        "SLA warnings and breaches",
        "schedules",
    ] {
        assert!(help.contains(duty), "{help}");
    }
}
