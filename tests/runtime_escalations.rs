//! Escalation rules on SQLite and on PostgreSQL: a rule whose condition
//! rises (false or no record before a step, true after) appends one
//! `escalation` event and one outbox row per notified role, once per rising
//! edge, whichever step made it rise (start, fire, a timer, an approval's
//! outcome); a condition that fails to evaluate counts as false and is
//! counted.

mod runtime_support;

use jiff::{SignedDuration, Timestamp};
use pdca::ir::Program;
use pdca::runtime::approval::Decision;
use pdca::runtime::escalation::ESCALATION_ACTOR;
use pdca::runtime::store::OutboxRow;
use pdca::runtime::{Actor, Engine};
use runtime_support::{program, TestDb};
use serde_json::json;

const ESCALATIONS: &str = include_str!("runtime_support/escalations.pdca");

on_both_backends!(
    rising_edges_raise_once,
    timers_and_approval_outcomes_raise,
    a_failing_condition_counts_as_false,
);

fn escalations_program() -> Program {
    runtime_support::unchecked(program(&[("escalations.pdca", ESCALATIONS)]), |p| {
        let rule = p
            .processes
            .iter_mut()
            .flat_map(|p| p.escalations.iter_mut())
            .find(|e| e.name == "broken")
            .expect("the broken rule");
        rule.condition = "record.count / 0 == 1".into();
    })
}

async fn engine(db: &TestDb) -> Engine {
    let e = match Engine::connect(&db.url).await {
        Ok(e) => e,
        Err(e) => panic!("connect {}: {e}", db.url),
    };
    e.deploy(&escalations_program()).await.expect("deploy");
    e
}

fn agent() -> Actor {
    Actor::new("ann", &["agent"])
}

fn lead() -> Actor {
    Actor::new("lee", &["lead"])
}

/// (event seq, role) of the escalation rows of instance `id`.
fn escalation_rows(rows: &[OutboxRow], id: i64) -> Vec<(i64, String)> {
    rows.iter()
        .filter(|r| r.instance_id == id && r.kind == "escalation")
        .map(|r| (r.event_seq, r.recipient_role.clone()))
        .collect()
}

/// The names of the escalations `instance show` lists, in order.
async fn raised(e: &Engine, id: i64) -> Vec<String> {
    e.show(id)
        .await
        .expect("show")
        .escalations
        .into_iter()
        .map(|x| x.name)
        .collect()
}

async fn rising_edges_raise_once(db: &TestDb) {
    let e = engine(db).await;
    // At start there is no record before: a true condition rises.
    let v = e
        .start(
            "issue",
            &agent(),
            &json!({ "summary": "Disk full", "priority": "P1" }),
        )
        .await
        .expect("start");
    let id = v.id;
    assert_eq!(v.revision, 2, "start, then the `critical` escalation");
    let history = e.history(id).await.expect("history");
    let ev = &history[1];
    assert_eq!(
        (ev.kind.as_str(), ev.actor.as_str()),
        ("escalation", ESCALATION_ACTOR)
    );
    assert_eq!(ev.patch, json!({ "escalation": "critical" }));
    assert_eq!((ev.from.as_deref(), ev.to.as_str()), (Some("open"), "open"));
    assert_eq!(ev.prev_hash, history[0].hash);
    let rows = e.outbox(false).await.expect("outbox");
    assert_eq!(escalation_rows(&rows, id), [(2, "lead".to_string())]);
    // No template: the default text.
    assert_eq!(
        rows[0].subject,
        format!("Escalation: Priority 1 on Issue {id}")
    );
    assert_eq!(
        rows[0].body,
        format!("Issue {id} was escalated: Priority 1 (state open).\n")
    );

    // Still P1 after the step: no new edge.
    let v = e
        .fire(id, "work", &agent(), &json!({}), None)
        .await
        .expect("work");
    assert_eq!(v.revision, 3);

    // `major` rises: one event, one row per role (the second `notify lead`
    // is the same role for the same event: once), the assignee recorded.
    let v = e
        .fire(id, "edit", &agent(), &json!({ "major": true }), None)
        .await
        .expect("edit major");
    assert_eq!(v.revision, 5);
    let history = e.history(id).await.expect("history");
    assert_eq!(
        history[4].patch,
        json!({ "escalation": "major", "assign": "lead" })
    );
    let rows = e.outbox(false).await.expect("outbox");
    let mut major: Vec<&OutboxRow> = rows.iter().filter(|r| r.event_seq == 5).collect();
    major.sort_by(|a, b| a.recipient_role.cmp(&b.recipient_role));
    assert_eq!(major.len(), 2, "{major:?}");
    assert_eq!(major[0].recipient_role, "boss");
    assert_eq!(major[1].recipient_role, "lead");
    assert_eq!(major[1].subject, format!("[Issue] Major issue on {id}"));
    assert_eq!(major[1].body, "major for lead: Disk full\n");
    assert_eq!(e.render_errors(), 0);

    // Falling, then rising again: a second `critical`.
    let v = e
        .fire(id, "edit", &agent(), &json!({ "priority": "P2" }), None)
        .await
        .expect("to P2");
    assert_eq!(v.revision, 6);
    let v = e
        .fire(id, "edit", &agent(), &json!({ "priority": "P1" }), None)
        .await
        .expect("back to P1");
    assert_eq!(v.revision, 8);
    let v = e
        .fire(id, "edit", &agent(), &json!({}), None)
        .await
        .expect("no change");
    assert_eq!(v.revision, 9);

    assert_eq!(raised(&e, id).await, ["critical", "major", "critical"]);
    let shown = e.show(id).await.expect("show");
    assert_eq!(shown.escalations[1].assign.as_deref(), Some("lead"));
    assert_eq!(shown.escalations[1].title.as_deref(), Some("Major issue"));
    assert_eq!(shown.escalations[1].seq, 5);
    let rows = e.outbox(false).await.expect("outbox");
    assert_eq!(
        escalation_rows(&rows, id),
        [
            (2, "lead".to_string()),
            (5, "lead".to_string()),
            (5, "boss".to_string()),
            (8, "lead".to_string()),
        ]
    );
    let report = e.verify().await.expect("verify");
    assert!(report.ok, "{report:?}");
}

async fn timers_and_approval_outcomes_raise(db: &TestDb) {
    let e = engine(db).await;
    let v = e
        .start(
            "issue",
            &agent(),
            &json!({ "summary": "Slow disk", "priority": "P3" }),
        )
        .await
        .expect("start");
    let id = v.id;
    assert_eq!(v.revision, 1);
    for (t, patch) in [
        ("work", json!({})),
        ("edit", json!({ "major": true })),
        ("park", json!({})),
    ] {
        e.fire(id, t, &agent(), &patch, None).await.expect(t);
    }
    assert_eq!(raised(&e, id).await, ["major"]);

    // The timer takes the issue to `overdue`: `late` rises on that step.
    let later = Timestamp::now() + SignedDuration::from_hours(2);
    let tick = e.tick(later).await.expect("tick");
    assert_eq!(tick.fired.len(), 1, "{tick:?}");
    let history = e.history(id).await.expect("history");
    let last = history.last().expect("events");
    assert_eq!(last.kind, "escalation");
    assert_eq!(last.patch, json!({ "escalation": "late" }));
    assert_eq!(last.to, "overdue");
    assert_eq!(history[history.len() - 2].actor, "system:timer");

    // The approval's outcome takes it to `done`: `closed_major` rises.
    e.fire(id, "resume", &agent(), &json!({}), None)
        .await
        .expect("resume");
    e.fire(id, "submit", &agent(), &json!({}), None)
        .await
        .expect("submit");
    let v = e
        .decide(id, "signoff", &lead(), Decision::Approve, None, None)
        .await
        .expect("approve");
    assert_eq!(v.state, "done");
    let history = e.history(id).await.expect("history");
    let n = history.len();
    assert_eq!(
        v.revision, n as i64,
        "the view shows the escalation's revision"
    );
    assert_eq!(history[n - 2].kind, "approved");
    assert_eq!(
        history[n - 1].patch,
        json!({ "escalation": "closed_major" })
    );
    assert_eq!(raised(&e, id).await, ["major", "late", "closed_major"]);
    let rows = e.outbox(false).await.expect("outbox");
    assert_eq!(
        escalation_rows(&rows, id)
            .iter()
            .filter(|(seq, _)| *seq == n as i64)
            .count(),
        1
    );
    assert!(e.verify().await.expect("verify").ok);
}

async fn a_failing_condition_counts_as_false(db: &TestDb) {
    let e = engine(db).await;
    assert_eq!(e.escalation_errors(), 0);
    // `record.count / 0` fails on an unset count and on any count.
    let v = e
        .start(
            "issue",
            &agent(),
            &json!({ "summary": "Odd", "priority": "P3", "count": 5 }),
        )
        .await
        .expect("the step goes on");
    assert_eq!(v.revision, 1);
    assert_eq!(e.escalation_errors(), 1, "evaluated once: no record before");
    e.fire(v.id, "work", &agent(), &json!({ "count": 6 }), None)
        .await
        .expect("work");
    // The record after the step: false (an error), so the record before
    // is not needed.
    assert_eq!(e.escalation_errors(), 2);
    assert!(raised(&e, v.id).await.is_empty());
    assert!(e.outbox(false).await.expect("outbox").is_empty());
    assert!(e.verify().await.expect("verify").ok);
}
