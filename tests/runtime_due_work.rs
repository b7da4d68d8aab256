//! The runtime's due work through `Engine::tick`, on SQLite and on
//! PostgreSQL: SLA warn thresholds (once each, never while paused, before
//! the breach, recomputed on re-targeting), approval timeouts (once per
//! round, cancelled by an outcome), schedules (one instance per period, not
//! twice under two tickers, phase kept on redeploy), and batching (many due
//! items in few transactions, one failing item undone alone).

mod runtime_support;

use std::process::Command;

use jiff::{SignedDuration, Timestamp};
use pdca::runtime::approval::Decision;
use pdca::runtime::tick::{DueKind, TickReport, TICK_BATCH, TIMER_ACTOR};
use pdca::runtime::{Actor, Engine};
use runtime_support::{program, Backend, TestDb};
use serde_json::{json, Value};
use sqlx::{AssertSqlSafe, Connection, Row};

const DUE: &str = include_str!("runtime_support/due.pdca");

on_both_backends!(
    warns_once_per_threshold_then_breaches,
    paused_or_stopped_clocks_do_not_warn,
    retargeting_recomputes_the_warnings,
    approval_times_out_once_per_round,
    decision_cancels_the_approval_timeout,
    schedule_starts_one_instance_per_period,
    two_tickers_start_a_schedule_once,
    batched_tick_handles_many_due_clocks,
    two_tickers_handle_each_clock_once,
    failing_item_is_undone_alone,
);

async fn engine(db: &TestDb) -> Engine {
    let e = match Engine::connect(&db.url).await {
        Ok(e) => e,
        Err(e) => panic!("connect {}: {e}", db.url),
    };
    e.deploy(&program(&[("due.pdca", DUE)]))
        .await
        .expect("deploy");
    e
}

fn agent() -> Actor {
    Actor::new("ann", &["agent"])
}

fn lead() -> Actor {
    Actor::new("lee", &["lead"])
}

fn manager() -> Actor {
    Actor::new("max", &["manager"])
}

fn case(priority: &str) -> Value {
    json!({ "summary": "Mail is down", "priority": priority })
}

fn ts(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

fn mins(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

async fn tick(e: &Engine, now: Timestamp) -> TickReport {
    let r = e.tick(now).await.expect("tick");
    assert!(r.failed.is_empty(), "{r:?}");
    r
}

/// Nothing happened to instances (schedules, which start new ones once a
/// day of the test's simulated time, are checked on their own).
fn nothing_done(r: &TickReport) -> bool {
    r.fired.is_empty()
        && r.warned.is_empty()
        && r.breached.is_empty()
        && r.approval_timeouts.is_empty()
}

/// One text value from a query, outside pdca.
async fn text(db: &TestDb, query: &str) -> String {
    let sql = AssertSqlSafe(query.to_string());
    match db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url)
                .await
                .expect("connect");
            let row = sqlx::query(sql).fetch_one(&mut c).await.expect(query);
            let _ = c.close().await;
            row.try_get::<String, _>(0).expect("text")
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.expect("connect");
            let row = sqlx::query(sql).fetch_one(&mut c).await.expect(query);
            let _ = c.close().await;
            row.try_get::<String, _>(0).expect("text")
        }
    }
}

async fn kinds(e: &Engine, id: i64) -> Vec<String> {
    e.history(id)
        .await
        .expect("history")
        .into_iter()
        .map(|h| h.kind)
        .collect()
}

// ------------------------------------------------------------------ warnings

async fn warns_once_per_threshold_then_breaches(db: &TestDb) {
    let e = engine(db).await;
    let v = e.start("case", &agent(), &case("P1")).await.expect("start");
    let t0 = ts(&v.created_at);

    assert!(nothing_done(&tick(&e, t0 + mins(49)).await));
    let r = tick(&e, t0 + mins(50)).await;
    assert_eq!(r.warned.len(), 1, "{r:?}");
    assert_eq!((r.warned[0].percent, r.warned[0].seq), (50.0, 2));
    assert_eq!(r.warned[0].due_at, format!("{:.6}", t0 + mins(50)));
    assert!(r.breached.is_empty());
    // Exactly once: the same tick again warns no more.
    assert!(nothing_done(&tick(&e, t0 + mins(50)).await));
    assert!(nothing_done(&tick(&e, t0 + mins(79)).await));

    let c = e.clocks(v.id, t0 + mins(60)).await.expect("clocks");
    assert_eq!(c[0].warnings, vec!["50%"]);
    assert_eq!(
        c[0].next_warning_at.as_deref(),
        Some(format!("{:.6}", t0 + mins(80)).as_str())
    );
    assert_eq!(
        c[0].due_at.as_deref(),
        Some(format!("{:.6}", t0 + mins(100)).as_str()),
        "the clock's due time shown is its breach"
    );

    // The 80% warning and the breach in one tick: warning first.
    let r = tick(&e, t0 + mins(100)).await;
    assert_eq!(r.warned.len(), 1, "{r:?}");
    assert_eq!(r.warned[0].percent, 80.0);
    assert_eq!(r.breached.len(), 1, "{r:?}");
    assert!(r.warned[0].seq < r.breached[0].seq);
    assert!(nothing_done(&tick(&e, t0 + mins(300)).await));

    assert_eq!(kinds(&e, v.id).await, ["start", "warn", "warn", "breach"]);
    let h = e.history(v.id).await.expect("history");
    assert_eq!(h[1].actor, "system:clock");
    assert_eq!(h[1].patch, json!({ "sla": "resolution", "percent": 50.0 }));
    assert!(e.verify().await.expect("verify").ok);

    let c = e.clocks(v.id, t0 + days(1)).await.expect("clocks");
    assert_eq!(c[0].warnings, vec!["50%", "80%"]);
    assert!(c[0].breached && c[0].next_warning_at.is_none(), "{c:?}");

    let rows: Vec<(String, String, String)> = e
        .outbox(false)
        .await
        .expect("outbox")
        .into_iter()
        .map(|o| (o.kind, o.recipient_role, o.subject))
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0].0, "warn");
    assert_eq!(rows[0].1, "agent");
    assert_eq!(
        rows[0].2,
        format!("SLA warning: Resolution for Case {}", v.id)
    );
    assert_eq!(
        (rows[1].0.as_str(), rows[1].1.as_str(), rows[1].2.clone()),
        ("warn", "lead", format!("Resolution at 80% for {}", v.id))
    );
    assert_eq!((rows[2].0.as_str(), rows[2].1.as_str()), ("breach", "lead"));
    let bodies: Vec<String> = e
        .outbox(false)
        .await
        .expect("outbox")
        .into_iter()
        .map(|o| o.body)
        .collect();
    assert_eq!(
        bodies[1],
        format!(
            "Mail is down: 1h 20m of 1h 40m, breaches at {:.6}.\n",
            t0 + mins(100)
        )
    );
    assert_eq!(e.render_errors(), 0);
}

async fn paused_or_stopped_clocks_do_not_warn(db: &TestDb) {
    let e = engine(db).await;
    let paused = e.start("case", &agent(), &case("P1")).await.expect("start");
    e.fire(paused.id, "hold", &agent(), &json!({}), None)
        .await
        .expect("hold");
    let stopped = e.start("case", &agent(), &case("P1")).await.expect("start");
    e.fire(stopped.id, "finish", &agent(), &json!({}), None)
        .await
        .expect("finish");
    let t0 = ts(&paused.created_at);

    assert!(nothing_done(&tick(&e, t0 + days(2)).await));
    assert_eq!(kinds(&e, stopped.id).await, ["start", "fire"]);
    assert_eq!(kinds(&e, paused.id).await, ["start", "fire"]);

    // Resumed, it warns on the time it ran.
    let resumed = e
        .fire(paused.id, "resume", &agent(), &json!({}), None)
        .await
        .expect("resume");
    let r0 = ts(&resumed.updated_at);
    let c = e.clocks(paused.id, r0).await.expect("clocks");
    assert!(c[0].elapsed_minutes < 2, "{c:?}");
    assert!(nothing_done(&tick(&e, r0 + mins(45)).await));
    let r = tick(&e, r0 + mins(52)).await;
    assert_eq!(r.warned.len(), 1, "{r:?}");
    assert_eq!(r.warned[0].instance, paused.id);
    assert!(e.verify().await.expect("verify").ok);
}

async fn retargeting_recomputes_the_warnings(db: &TestDb) {
    let e = engine(db).await;
    let v = e.start("case", &agent(), &case("P2")).await.expect("start");
    let t0 = ts(&v.created_at);
    let c = e.clocks(v.id, t0).await.expect("clocks");
    assert_eq!(
        c[0].next_warning_at.as_deref(),
        Some(format!("{:.6}", t0 + mins(200)).as_str()),
        "50% of 400 minutes"
    );
    e.fire(v.id, "bump", &agent(), &json!({ "priority": "P1" }), None)
        .await
        .expect("bump");
    let c = e.clocks(v.id, t0).await.expect("clocks");
    let next = ts(c[0].next_warning_at.as_deref().expect("next warning"));
    assert!(
        next < t0 + mins(52),
        "50% of the new 100 minutes: {next} {c:?}"
    );
    let r = tick(&e, t0 + mins(60)).await;
    assert_eq!(r.warned.len(), 1, "{r:?}");
    assert_eq!(r.warned[0].percent, 50.0);
}

// ---------------------------------------------------------- approval timeouts

async fn approval_times_out_once_per_round(db: &TestDb) {
    let e = engine(db).await;
    let v = e.start("case", &agent(), &case("P2")).await.expect("start");
    let v = e
        .fire(v.id, "submit", &agent(), &json!({}), None)
        .await
        .expect("submit");
    let t1 = ts(&v.updated_at);
    let signoff = v
        .approvals
        .iter()
        .find(|a| a.name == "signoff")
        .expect("signoff open");
    assert_eq!(
        signoff.timeout_due_at.as_deref(),
        Some(format!("{:.6}", t1 + days(2)).as_str())
    );

    assert!(tick(&e, t1 + days(2) - mins(1))
        .await
        .approval_timeouts
        .is_empty());
    let r = tick(&e, t1 + days(2)).await;
    assert_eq!(r.approval_timeouts.len(), 1, "{r:?}");
    let t = &r.approval_timeouts[0];
    assert_eq!(
        (t.instance, t.approval.as_str(), t.state.as_str()),
        (v.id, "signoff", "review")
    );
    assert_eq!(t.escalated_to, ["manager", "lead"]);
    // Once per round: ticking again, or staying in the state, does not
    // escalate again.
    assert!(tick(&e, t1 + days(2)).await.approval_timeouts.is_empty());
    e.fire(v.id, "nudge", &agent(), &json!({}), None)
        .await
        .expect("nudge");
    let r = tick(&e, t1 + days(3)).await;
    let names: Vec<&str> = r
        .approval_timeouts
        .iter()
        .map(|t| t.approval.as_str())
        .collect();
    assert_eq!(names, ["plain"], "{r:?}");
    assert!(tick(&e, t1 + days(30)).await.approval_timeouts.is_empty());

    let h = e.history(v.id).await.expect("history");
    let timeouts: Vec<_> = h.iter().filter(|e| e.kind == "approval_timeout").collect();
    assert_eq!(timeouts.len(), 2);
    assert_eq!(timeouts[0].actor, TIMER_ACTOR);
    assert_eq!(timeouts[0].patch, json!({ "approval": "signoff" }));
    assert_eq!(timeouts[0].to, "review");

    let shown = e.show(v.id).await.expect("show");
    let signoff = shown
        .approvals
        .iter()
        .find(|a| a.name == "signoff")
        .expect("signoff");
    assert_eq!(signoff.timed_out_seq, Some(timeouts[0].seq));
    assert!(signoff.timeout_due_at.is_none());

    let rows: Vec<_> = e
        .outbox(false)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|o| o.kind == "approval_timeout")
        .collect();
    assert_eq!(
        rows.len(),
        2,
        "manager and lead, only for signoff: {rows:?}"
    );
    assert_eq!(rows[0].recipient_role, "manager");
    assert_eq!(
        rows[0].subject,
        format!("Lead sign-off overdue for {}", v.id)
    );
    assert_eq!(
        rows[0].body,
        format!("Waiting since {} in review.\n", v.updated_at)
    );

    // A rejection ends the round; entering the state again opens a new one
    // with a timeout of its own.
    e.decide(v.id, "signoff", &lead(), Decision::Reject, None, None)
        .await
        .expect("reject");
    let again = e
        .fire(v.id, "submit", &agent(), &json!({}), None)
        .await
        .expect("submit again");
    let t2 = ts(&again.updated_at);
    let r = tick(&e, t2 + days(2)).await;
    assert_eq!(r.approval_timeouts.len(), 1, "{r:?}");
    assert_eq!(r.approval_timeouts[0].approval, "signoff");
    assert!(e.verify().await.expect("verify").ok);
}

async fn decision_cancels_the_approval_timeout(db: &TestDb) {
    let e = engine(db).await;
    let v = e.start("case", &agent(), &case("P2")).await.expect("start");
    let v = e
        .fire(v.id, "submit", &agent(), &json!({}), None)
        .await
        .expect("submit");
    assert_eq!(db.count("SELECT COUNT(*) FROM approval_timeouts").await, 2);
    e.decide(v.id, "plain", &manager(), Decision::Approve, None, None)
        .await
        .expect("approve");
    assert_eq!(e.show(v.id).await.expect("show").state, "done");
    assert_eq!(
        db.count("SELECT COUNT(*) FROM approval_timeouts").await,
        0,
        "leaving the state cancels every timeout of it"
    );
    let r = tick(&e, ts(&v.updated_at) + days(10)).await;
    assert!(r.approval_timeouts.is_empty(), "{r:?}");
    assert!(!kinds(&e, v.id)
        .await
        .iter()
        .any(|k| k == "approval_timeout"));
}

// ----------------------------------------------------------------- schedules

async fn schedule_starts_one_instance_per_period(db: &TestDb) {
    let e = engine(db).await;
    let first = ts(&text(
        db,
        "SELECT next_due FROM schedules WHERE process = 'periodic'",
    )
    .await);
    assert!(nothing_done(&tick(&e, first - mins(1)).await));

    let r = tick(&e, first).await;
    assert_eq!(r.scheduled.len(), 1, "{r:?}");
    let s = &r.scheduled[0];
    assert_eq!((s.process.as_str(), s.missed_periods), ("periodic", 0));
    assert_eq!(s.next_due, format!("{:.6}", first + days(1)));
    let v = e.show(s.instance).await.expect("show");
    assert_eq!(v.state, "planned");
    assert_eq!(v.record, json!({ "title": "Periodic review" }));
    let h = e.history(s.instance).await.expect("history");
    assert_eq!(h[0].actor, "system:schedule");
    let notified = e
        .outbox(false)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|o| o.instance_id == s.instance && o.kind == "on_enter")
        .count();
    assert_eq!(notified, 1, "the start path writes its notifications");

    assert!(
        tick(&e, first).await.scheduled.is_empty(),
        "once per period"
    );
    // Two and a half periods later: one start; the two periods that ended
    // meanwhile are not back-filled.
    let r = tick(&e, first + days(3) + SignedDuration::from_hours(12)).await;
    assert_eq!(r.scheduled.len(), 1, "{r:?}");
    assert_eq!(r.scheduled[0].missed_periods, 2, "{r:?}");
    assert_eq!(r.scheduled[0].next_due, format!("{:.6}", first + days(4)));
    assert_eq!(
        e.list(Some("periodic"), None, 100, None)
            .await
            .expect("list")
            .len(),
        2
    );

    // Redeploying a changed definition keeps the phase.
    let changed = DUE.replace("default \"Periodic review\"", "default \"Review\"");
    let report = e
        .deploy(&program(&[("due.pdca", &changed)]))
        .await
        .expect("redeploy");
    assert!(report
        .processes
        .iter()
        .any(|p| p.process == "periodic" && p.version == 2));
    assert_eq!(
        text(
            db,
            "SELECT next_due FROM schedules WHERE process = 'periodic'"
        )
        .await,
        format!("{:.6}", first + days(4))
    );
    let r = tick(&e, first + days(4)).await;
    assert_eq!(r.scheduled.len(), 1, "{r:?}");
    let v = e.show(r.scheduled[0].instance).await.expect("show");
    assert_eq!(
        (v.version, v.record.clone()),
        (2, json!({ "title": "Review" }))
    );
    assert!(e.verify().await.expect("verify").ok);
}

async fn two_tickers_start_a_schedule_once(db: &TestDb) {
    let a = engine(db).await;
    let b = engine(db).await;
    let first = ts(&text(
        db,
        "SELECT next_due FROM schedules WHERE process = 'periodic'",
    )
    .await);
    for period in 0..3 {
        let now = first + days(period);
        let (ra, rb) = tokio::join!(a.tick(now), b.tick(now));
        let (ra, rb) = (ra.expect("tick a"), rb.expect("tick b"));
        assert_eq!(
            ra.scheduled.len() + rb.scheduled.len(),
            1,
            "period {period}: {ra:?} {rb:?}"
        );
    }
    assert_eq!(
        a.list(Some("periodic"), None, 100, None)
            .await
            .expect("list")
            .len(),
        3
    );
}

// ------------------------------------------------------------------ batching

async fn batched_tick_handles_many_due_clocks(db: &TestDb) {
    let e = engine(db).await;
    let n = TICK_BATCH * 2 + 25;
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(
            e.start("case", &agent(), &case("P1"))
                .await
                .expect("start")
                .id,
        );
    }
    let last = e.show(ids[n - 1]).await.expect("show");
    let r = tick(&e, ts(&last.created_at) + mins(100)).await;
    let mut breached: Vec<i64> = r.breached.iter().map(|b| b.instance).collect();
    breached.sort_unstable();
    assert_eq!(breached, ids, "every due clock breaches once");
    assert_eq!(r.warned.len(), 2 * n);
    // Three batches of clocks (200, 200, 25) plus one (empty) batch of
    // each other kind: transactions grow with the due work.
    assert_eq!(r.transactions, 3 + 3, "{}", r.transactions);
    assert!(!r.more);
    assert_eq!(db.count("SELECT COUNT(*) FROM events").await, 4 * n as i64);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM clocks WHERE due_at IS NOT NULL")
            .await,
        0
    );
    assert!(nothing_done(
        &tick(&e, ts(&last.created_at) + days(3)).await
    ));
    assert!(e.verify().await.expect("verify").ok);
}

async fn two_tickers_handle_each_clock_once(db: &TestDb) {
    let a = engine(db).await;
    let b = engine(db).await;
    let mut ids = Vec::new();
    for _ in 0..30 {
        ids.push(
            a.start("case", &agent(), &case("P1"))
                .await
                .expect("start")
                .id,
        );
    }
    let now = Timestamp::now() + mins(300);
    let (ra, rb) = tokio::join!(a.tick(now), b.tick(now));
    let (ra, rb) = (ra.expect("tick a"), rb.expect("tick b"));
    assert!(
        ra.failed.is_empty() && rb.failed.is_empty(),
        "{ra:?} {rb:?}"
    );
    let mut breached: Vec<i64> = ra
        .breached
        .iter()
        .chain(&rb.breached)
        .map(|b| b.instance)
        .collect();
    breached.sort_unstable();
    assert_eq!(breached, ids, "each clock breaches exactly once");
    assert_eq!(ra.warned.len() + rb.warned.len(), 60);
    assert_eq!(db.count("SELECT COUNT(*) FROM events").await, 30 * 4);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM outbox WHERE kind = 'breach'")
            .await,
        30
    );
    assert!(a.verify().await.expect("verify").ok);
}

async fn failing_item_is_undone_alone(db: &TestDb) {
    let e = engine(db).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            e.start("case", &agent(), &case("P1"))
                .await
                .expect("start")
                .id,
        );
    }
    let bad = ids[2];
    let good_record = text(
        db,
        &format!("SELECT record FROM instances WHERE id = {bad}"),
    )
    .await;
    db.exec(&[&format!(
        "UPDATE instances SET record = 'not json' WHERE id = {bad}"
    )])
    .await;
    let now = Timestamp::now() + mins(60);
    let r = e.tick(now).await.expect("tick");
    assert_eq!(r.warned.len(), 4, "{r:?}");
    assert_eq!(r.failed.len(), 1, "{r:?}");
    let f = &r.failed[0];
    assert_eq!(
        (f.kind, f.instance, f.name.as_str()),
        (DueKind::Clock, Some(bad), "resolution")
    );
    assert!(f.reason.contains("record of instance"), "{}", f.reason);
    // Its warn event was undone with it; the others committed.
    assert_eq!(
        db.count(&format!(
            "SELECT COUNT(*) FROM events WHERE instance_id = {bad}"
        ))
        .await,
        1
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM events").await, 5 + 4);

    // Repaired, it is handled by the next tick.
    db.exec(&[&format!(
        "UPDATE instances SET record = '{}' WHERE id = {bad}",
        good_record.replace('\'', "''")
    )])
    .await;
    let r = tick(&e, now).await;
    assert_eq!(r.warned.len(), 1, "{r:?}");
    assert_eq!(r.warned[0].instance, bad);
    assert!(e.verify().await.expect("verify").ok);
}

// ----------------------------------------------------------------------- CLI

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tick_reports_each_kind_on_the_command_line() {
    let db = TestDb::sqlite();
    let e = engine(&db).await;
    let v = e.start("case", &agent(), &case("P1")).await.expect("start");
    e.store().close().await;
    let now = ts(&v.created_at) + days(2);
    let run = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_pdca"))
            .args(["tick", "--now", &now.to_string(), "--db", &db.url])
            .args(["--format", format])
            .env("NO_COLOR", "1")
            .output()
            .expect("run pdca");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let human = run("human");
    assert!(
        human.contains(&format!(
            "warned: instance {} SLA `resolution` at 50%",
            v.id
        )),
        "{human}"
    );
    assert!(human.contains("breached: instance"), "{human}");
    assert!(human.contains("scheduled: started periodic"), "{human}");
    assert!(
        human.contains(
            "0 timers fired, 0 skipped, 0 approval timeouts, 2 warnings, 1 breach, 1 scheduled start, 0 dropped, 0 failed"
        ),
        "{human}"
    );
    let json: Value = serde_json::from_str(&run("json")).expect("json");
    assert_eq!(json["warned"], json!([]), "handled once: {json}");
    assert_eq!(json["scheduled"], json!([]), "{json}");
    assert_eq!(json["failed"], json!([]), "{json}");
}
