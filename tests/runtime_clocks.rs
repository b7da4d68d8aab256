//! SLA clocks on SQLite and on PostgreSQL: a clock starts in its `from`
//! states and stops (met) in its `until` states, pauses, counts business
//! time on its calendar, is breached by `tick` at its due time, and is
//! re-targeted when the field its target depends on changes.

mod runtime_support;

use jiff::{SignedDuration, Timestamp};
use pdca::runtime::{Actor, Engine};
use runtime_support::{clocks_program, TestDb};
use serde_json::{json, Value};

on_both_backends!(
    clock_starts_and_stops_met,
    pause_stops_accumulation,
    business_time_across_a_weekend,
    tick_breaches_at_the_due_time,
    changing_priority_retargets,
    show_lists_clocks,
);

async fn engine(db: &TestDb) -> Engine {
    let e = match Engine::connect(&db.url).await {
        Ok(e) => e,
        Err(e) => panic!("connect {}: {e}", db.url),
    };
    e.deploy(&clocks_program()).await.expect("deploy");
    e
}

fn agent() -> Actor {
    Actor::new("ann", &["agent"])
}

fn fields(priority: &str) -> Value {
    json!({ "summary": "Broken", "priority": priority })
}

fn ts(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

async fn clock_starts_and_stops_met(db: &TestDb) {
    let e = engine(db).await;
    let v = e
        .start("case", &agent(), &fields("P2"))
        .await
        .expect("start");
    let c = e.clocks(v.id, Timestamp::now()).await.expect("clocks");
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(
        (c[0].sla.as_str(), c[0].status.as_str()),
        ("resolution", "running")
    );
    assert_eq!(c[0].target_minutes, 16 * 60);
    assert!(c[0].due_at.is_some());
    e.fire(v.id, "finish", &agent(), &json!({}), None)
        .await
        .expect("finish");
    let c = e.clocks(v.id, Timestamp::now()).await.expect("clocks");
    assert_eq!(c[0].status, "met", "{c:?}");
    assert!(c[0].due_at.is_none() && !c[0].breached);
}

async fn pause_stops_accumulation(db: &TestDb) {
    let e = engine(db).await;
    let v = e
        .start("case", &agent(), &fields("P2"))
        .await
        .expect("start");
    e.fire(v.id, "hold", &agent(), &json!({}), None)
        .await
        .expect("hold");
    let now = Timestamp::now();
    let a = e.clocks(v.id, now).await.expect("clocks");
    let later = now + SignedDuration::from_hours(24 * 7);
    let b = e.clocks(v.id, later).await.expect("clocks");
    assert_eq!(a[0].status, "paused");
    assert!(a[0].due_at.is_none());
    assert_eq!(a[0].elapsed_minutes, b[0].elapsed_minutes, "{a:?} {b:?}");
    // Resuming runs it again.
    e.fire(v.id, "resume", &agent(), &json!({}), None)
        .await
        .expect("resume");
    let c = e.clocks(v.id, Timestamp::now()).await.expect("clocks");
    assert_eq!(c[0].status, "running");
    assert!(c[0].due_at.is_some());
}

async fn business_time_across_a_weekend(db: &TestDb) {
    let e = engine(db).await;
    let v = e
        .start("case", &agent(), &fields("P2"))
        .await
        .expect("start");
    // Move the running segment to Friday 16:00 (one working hour left).
    db.exec(&[&format!(
        "UPDATE clocks SET segment_started_at = '2026-03-06T16:00:00.000000Z', wall_us = 0, business_us = 0 \
         WHERE instance_id = {}",
        v.id
    )])
    .await;
    let c = e
        .clocks(v.id, ts("2026-03-09T10:00:00Z"))
        .await
        .expect("clocks");
    assert_eq!(c[0].elapsed_minutes, 120, "{c:?}");
    assert_eq!(c[0].remaining_minutes, 16 * 60 - 120);
}

async fn tick_breaches_at_the_due_time(db: &TestDb) {
    let e = engine(db).await;
    let v = e
        .start("case", &agent(), &fields("P1"))
        .await
        .expect("start");
    let c = e.clocks(v.id, Timestamp::now()).await.expect("clocks");
    let due = ts(c[0].due_at.as_deref().expect("due"));
    let early = e
        .tick(due - SignedDuration::from_mins(1))
        .await
        .expect("tick");
    assert!(early.breached.is_empty(), "{early:?}");
    let report = e.tick(due).await.expect("tick");
    assert_eq!(report.breached.len(), 1, "{report:?}");
    assert_eq!(report.breached[0].sla, "resolution");
    let again = e.tick(due).await.expect("tick");
    assert!(again.breached.is_empty(), "breached once: {again:?}");
    let h = e.history(v.id).await.expect("history");
    let last = h.last().expect("events");
    assert_eq!(
        (last.kind.as_str(), last.actor.as_str()),
        ("breach", "system:clock")
    );
    assert_eq!(last.patch, json!({ "sla": "resolution" }));
    assert!(e.verify().await.expect("verify").ok);
    let c = e.clocks(v.id, due).await.expect("clocks");
    assert!(c[0].breached && c[0].due_at.is_none(), "{c:?}");
    // The instance still works; stopping a breached clock says so.
    e.fire(v.id, "finish", &agent(), &json!({}), None)
        .await
        .expect("finish");
    let c = e.clocks(v.id, Timestamp::now()).await.expect("clocks");
    assert_eq!(c[0].status, "breached");
    assert!(e.verify().await.expect("verify").ok);
}

async fn changing_priority_retargets(db: &TestDb) {
    let e = engine(db).await;
    let v = e
        .start("case", &agent(), &fields("P2"))
        .await
        .expect("start");
    let before = e.clocks(v.id, Timestamp::now()).await.expect("clocks");
    e.fire(v.id, "bump", &agent(), &json!({ "priority": "P1" }), None)
        .await
        .expect("bump");
    let after = e.clocks(v.id, Timestamp::now()).await.expect("clocks");
    assert_eq!(before[0].target_minutes, 16 * 60);
    assert_eq!(after[0].target_minutes, 4 * 60);
    assert_eq!(after[0].status, "running");
    assert!(
        ts(after[0].due_at.as_deref().expect("due"))
            < ts(before[0].due_at.as_deref().expect("due"))
    );
}

async fn show_lists_clocks(db: &TestDb) {
    let e = engine(db).await;
    let v = e
        .start("case", &agent(), &fields("P1"))
        .await
        .expect("start");
    assert_eq!(v.clocks.len(), 1, "{v:?}");
    let shown = e.show(v.id).await.expect("show");
    assert_eq!(shown.clocks[0].sla, "resolution");
    let json = serde_json::to_value(&shown).expect("json");
    assert_eq!(json["clocks"][0]["status"], "running");
}
