//! The notification outbox on SQLite and on PostgreSQL: entering a state
//! writes one row per `on enter` role, rendered from the record; every
//! entry event writes its own rows; a breach found by `tick` writes the
//! breach rows; a notification exists once per event.

mod runtime_support;

use jiff::{SignedDuration, Timestamp};
use pdca::runtime::{Actor, Engine};
use runtime_support::{outbox_program, TestDb};
use serde_json::json;

on_both_backends!(
    entering_writes_one_row_per_role,
    every_entry_event_writes_its_rows,
    breach_writes_escalation_rows,
    rows_are_unique_per_event,
);

async fn engine(db: &TestDb) -> Engine {
    let e = match Engine::connect(&db.url).await {
        Ok(e) => e,
        Err(e) => panic!("connect {}: {e}", db.url),
    };
    e.deploy(&outbox_program()).await.expect("deploy");
    e
}

fn agent() -> Actor {
    Actor::new("ann", &["agent"])
}

async fn started(e: &Engine) -> i64 {
    e.start(
        "case",
        &agent(),
        &json!({ "summary": "Printer on fire", "priority": "P1" }),
    )
    .await
    .expect("start")
    .id
}

async fn entering_writes_one_row_per_role(db: &TestDb) {
    let e = engine(db).await;
    let id = started(&e).await;
    assert!(e.outbox(false).await.expect("outbox").is_empty());
    e.fire(id, "submit", &agent(), &json!({}), None)
        .await
        .expect("submit");
    let rows = e.outbox(true).await.expect("outbox");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let mut roles: Vec<_> = rows.iter().map(|r| r.recipient_role.as_str()).collect();
    roles.sort();
    assert_eq!(roles, ["lead", "requester"]);
    for r in &rows {
        assert_eq!((r.instance_id, r.event_seq), (id, 2));
        assert_eq!(r.kind, "on_enter");
        assert_eq!(r.subject, format!("Case {id}: Printer on fire"));
        assert!(r.sent_at.is_none());
    }
    let requester = rows
        .iter()
        .find(|r| r.recipient_role == "requester")
        .unwrap();
    assert_eq!(requester.recipient_id.as_deref(), Some("ann"));
    assert_eq!(
        requester.body,
        "Priority P1, now review, for requester ann.\n"
    );
    assert_eq!(e.render_errors(), 0);
}

async fn every_entry_event_writes_its_rows(db: &TestDb) {
    let e = engine(db).await;
    let id = started(&e).await;
    for t in ["submit", "rework", "submit", "finish"] {
        e.fire(id, t, &agent(), &json!({}), None).await.expect(t);
    }
    let rows = e.outbox(false).await.expect("outbox");
    let keys: Vec<_> = rows
        .iter()
        .map(|r| (r.event_seq, r.recipient_role.as_str()))
        .collect();
    assert_eq!(rows.len(), 5, "{keys:?}");
    for seq in [2, 4] {
        assert_eq!(rows.iter().filter(|r| r.event_seq == seq).count(), 2);
    }
    let done: Vec<_> = rows.iter().filter(|r| r.event_seq == 5).collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].recipient_role, "lead");
    assert_eq!(done[0].subject, format!("Case {id} is now done"));
}

async fn breach_writes_escalation_rows(db: &TestDb) {
    let e = engine(db).await;
    let id = started(&e).await;
    let later = Timestamp::now() + SignedDuration::from_hours(2);
    let report = e.tick(later).await.expect("tick");
    assert_eq!(report.breached.len(), 1, "{report:?}");
    let seq = report.breached[0].seq;
    let rows = e.outbox(true).await.expect("outbox");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!((r.instance_id, r.event_seq), (id, seq));
    assert_eq!(
        (r.kind.as_str(), r.recipient_role.as_str()),
        ("breach", "lead")
    );
    assert_eq!(r.subject, format!("SLA resolution breached for {id}"));
    assert_eq!(r.body, "Resolution target 1h missed: Printer on fire.\n");
    // A second tick finds nothing new.
    e.tick(later).await.expect("tick");
    assert_eq!(e.outbox(false).await.expect("outbox").len(), 1);
}

async fn rows_are_unique_per_event(db: &TestDb) {
    let e = engine(db).await;
    let id = started(&e).await;
    e.fire(id, "submit", &agent(), &json!({}), None)
        .await
        .expect("submit");
    let retried = format!(
        "INSERT INTO outbox (instance_id, event_seq, kind, recipient_role, subject, body, \
         created_at) VALUES ({id}, 2, 'on_enter', 'lead', 's', 'b', 'now')"
    );
    assert!(db.try_exec(&retried).await.is_err());
    assert_eq!(db.count("SELECT COUNT(*) FROM outbox").await, 2);
}
