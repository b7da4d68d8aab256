//! Timers (`after …` transitions) and `Engine::tick`, on SQLite and on
//! PostgreSQL: a timer fires once it is due and only once, leaving the
//! state cancels it, business durations count on the process's calendar,
//! and `pdca tick --now` on the real binary.

mod runtime_support;

use std::process::Command;

use jiff::{SignedDuration, Timestamp};
use pdca::runtime::engine::{timer_due, TIMER_ACTOR};
use pdca::runtime::{Actor, Engine};
use runtime_support::{ticket_program, timers_program, TestDb};
use serde_json::{json, Value};

on_both_backends!(
    timer_fires_once_due_and_only_once,
    leaving_the_state_cancels_the_timer,
    business_timer_counts_on_the_calendar,
    two_tickers_fire_a_timer_once,
);

async fn engine(db: &TestDb) -> Engine {
    match Engine::connect(&db.url).await {
        Ok(e) => e,
        Err(e) => panic!("connect {}: {e}", db.url),
    }
}

fn desk() -> Actor {
    Actor::new("dana", &["service_desk"])
}

fn fields() -> Value {
    json!({
        "summary": "Printer on fire",
        "reported_by": "sam",
        "impact": "high",
        "urgency": "medium",
    })
}

fn ts(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

async fn timers(db: &TestDb) -> i64 {
    db.count("SELECT COUNT(*) FROM timers").await
}

async fn timer_fires_once_due_and_only_once(db: &TestDb) {
    let e = engine(db).await;
    e.deploy(&ticket_program()).await.expect("deploy");
    let v = e.start("ticket", &desk(), &fields()).await.expect("start");
    assert_eq!(timers(db).await, 1, "`expire` after 3d is set at start");
    let created = ts(&v.created_at);

    // Not due yet: nothing fires, nothing changes.
    let early = e.tick(created + days(1)).await.expect("tick");
    assert!(
        early.fired.is_empty() && early.skipped.is_empty(),
        "{early:?}"
    );
    assert_eq!(e.show(v.id).await.expect("show").state, "new");
    assert_eq!(timers(db).await, 1);

    // Due: fires as system:timer, appends a `fire` event.
    let due = created + days(3);
    let report = e.tick(due).await.expect("tick");
    assert_eq!(report.fired.len(), 1, "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");
    let f = &report.fired[0];
    assert_eq!(
        (
            f.instance,
            f.transition.as_str(),
            f.from.as_str(),
            f.to.as_str()
        ),
        (v.id, "expire", "new", "expired")
    );
    assert_eq!(f.due_at, format!("{due:.6}"));
    let shown = e.show(v.id).await.expect("show");
    assert_eq!((shown.state.as_str(), shown.revision), ("expired", 2));
    let history = e.history(v.id).await.expect("history");
    let last = history.last().expect("events");
    assert_eq!(
        (
            last.kind.as_str(),
            last.actor.as_str(),
            last.transition.as_deref()
        ),
        ("fire", TIMER_ACTOR, Some("expire"))
    );
    assert_eq!(timers(db).await, 0);
    assert!(e.verify().await.expect("verify").ok);

    // A second tick fires nothing.
    let again = e.tick(due + days(10)).await.expect("tick");
    assert!(
        again.fired.is_empty() && again.skipped.is_empty(),
        "{again:?}"
    );
    assert_eq!(e.history(v.id).await.expect("history").len(), 2);
}

async fn leaving_the_state_cancels_the_timer(db: &TestDb) {
    let e = engine(db).await;
    e.deploy(&ticket_program()).await.expect("deploy");
    let v = e.start("ticket", &desk(), &fields()).await.expect("start");
    let v = e
        .fire(
            v.id,
            "triage",
            &desk(),
            &json!({"category": "software"}),
            None,
        )
        .await
        .expect("triage");
    assert_eq!(timers(db).await, 0, "leaving `new` deletes its timer");
    let report = e.tick(ts(&v.created_at) + days(30)).await.expect("tick");
    assert!(
        report.fired.is_empty() && report.skipped.is_empty(),
        "{report:?}"
    );
    let shown = e.show(v.id).await.expect("show");
    assert_eq!((shown.state.as_str(), shown.revision), ("triaged", 2));
    assert!(e.verify().await.expect("verify").ok);
}

async fn business_timer_counts_on_the_calendar(db: &TestDb) {
    let e = engine(db).await;
    e.deploy(&timers_program()).await.expect("deploy");
    let process = e.definition("request").await.expect("definition");
    let after = process
        .transitions
        .iter()
        .find(|t| t.name == "remind")
        .and_then(|t| t.after)
        .expect("remind has a timer");

    // Friday 16:00 + 2 business days skips the weekend: Tuesday 16:00.
    assert_eq!(
        timer_due(&process, ts("2026-03-06T16:00:00Z"), &after).expect("due"),
        ts("2026-03-10T16:00:00Z")
    );
    // Saturday: counted from Monday 09:00, due Wednesday 09:00.
    assert_eq!(
        timer_due(&process, ts("2026-03-07T10:00:00Z"), &after).expect("due"),
        ts("2026-03-11T09:00:00Z")
    );

    // The stored timer is due exactly then, counted from the start.
    let agent = Actor::new("ann", &["agent"]);
    let v = e
        .start("request", &agent, &json!({"summary": "New laptop"}))
        .await
        .expect("start");
    let due = timer_due(&process, ts(&v.created_at), &after).expect("due");
    assert!(due.duration_since(ts(&v.created_at)) >= days(2));
    let early = e
        .tick(due - SignedDuration::from_micros(1))
        .await
        .expect("tick");
    assert!(early.fired.is_empty(), "{early:?}");
    let report = e.tick(due).await.expect("tick");
    assert_eq!(report.fired.len(), 1, "{report:?}");
    assert_eq!(report.fired[0].due_at, format!("{due:.6}"));
    assert_eq!(e.show(v.id).await.expect("show").state, "reminded");
    assert!(e.verify().await.expect("verify").ok);
}

async fn two_tickers_fire_a_timer_once(db: &TestDb) {
    let a = engine(db).await;
    let b = engine(db).await;
    a.deploy(&ticket_program()).await.expect("deploy");
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            a.start("ticket", &desk(), &fields())
                .await
                .expect("start")
                .id,
        );
    }
    let now = Timestamp::now() + days(4);
    let (ra, rb) = tokio::join!(a.tick(now), b.tick(now));
    let (ra, rb) = (ra.expect("tick a"), rb.expect("tick b"));
    let mut fired: Vec<i64> = ra
        .fired
        .iter()
        .chain(&rb.fired)
        .map(|f| f.instance)
        .collect();
    fired.sort_unstable();
    assert_eq!(fired, ids, "each timer fires exactly once: {ra:?} {rb:?}");
    assert_eq!(db.count("SELECT COUNT(*) FROM events").await, 10);
    assert!(a.verify().await.expect("verify").ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tick_from_the_command_line() {
    let db = TestDb::sqlite();
    let e = engine(&db).await;
    e.deploy(&ticket_program()).await.expect("deploy");
    let v = e.start("ticket", &desk(), &fields()).await.expect("start");
    e.store().close().await;
    let created = ts(&v.created_at);

    let tick = |now: Timestamp| {
        let out = Command::new(env!("CARGO_BIN_EXE_pdca"))
            .args(["tick", "--now", &now.to_string(), "--db", &db.url])
            .args(["--format", "json"])
            .env("NO_COLOR", "1")
            .output()
            .expect("run pdca");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).expect("json report")
    };
    let early = tick(created + days(1));
    assert_eq!(early["fired"], json!([]), "{early}");
    let report = tick(created + days(3) + SignedDuration::from_secs(1));
    assert_eq!(report["fired"][0]["instance"], json!(v.id), "{report}");
    assert_eq!(report["fired"][0]["to"], json!("expired"), "{report}");
    assert_eq!(report["skipped"], json!([]), "{report}");

    let bad = Command::new(env!("CARGO_BIN_EXE_pdca"))
        .args(["tick", "--now", "yesterday", "--db", &db.url])
        .output()
        .expect("run pdca");
    assert_eq!(bad.status.code(), Some(2));
}
