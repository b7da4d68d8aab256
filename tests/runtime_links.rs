//! Spawned, linked instances on SQLite and on PostgreSQL: entering a state
//! with a `spawn` starts the other process's instance in the same
//! transaction (fields of the same name and type copied, through the normal
//! start path), links it by a `spawn` event, shows the link both ways, keeps
//! the audit chain valid; a spawn of an undeployed process or a spawn cycle
//! refuses the whole step and changes nothing.

mod runtime_support;

use jiff::{SignedDuration, Timestamp};
use pdca::ir::Program;
use pdca::runtime::spawn::{MAX_SPAWN_DEPTH, SPAWNED, SPAWNED_BY, SPAWN_ACTOR};
use pdca::runtime::{Actor, Engine, RuntimeError};
use runtime_support::{program, TestDb};
use serde_json::json;

const LINKS: &str = include_str!("runtime_support/links.pdca");

on_both_backends!(
    entering_spawns_a_linked_instance,
    the_guard_stops_a_second_spawn,
    an_unlinked_spawn_is_recorded_on_both_sides,
    an_undeployed_spawn_refuses_the_step,
    a_spawn_cycle_stops_at_the_depth_limit,
    a_failing_spawn_condition_refuses_the_step,
);

fn links_program() -> Program {
    runtime_support::unchecked(program(&[("links.pdca", LINKS)]), |p| {
        let flaky = p
            .processes
            .iter_mut()
            .find(|p| p.name == "flaky")
            .expect("flaky");
        flaky.spawns[0].guard = Some("record.effort / 0 == 1".into());
        // ping spawns pong on entry; pong spawning ping back closes the cycle.
        let ping = p
            .processes
            .iter()
            .find(|p| p.name == "ping")
            .and_then(|p| p.spawns.first())
            .cloned()
            .expect("ping's spawn");
        let pong = p
            .processes
            .iter_mut()
            .find(|p| p.name == "pong")
            .expect("pong");
        pong.spawns.push(pdca::ir::Spawn {
            process: "ping".into(),
            ..ping
        });
    })
}

async fn engine_with(db: &TestDb, program: &Program) -> Engine {
    let e = match Engine::connect(&db.url).await {
        Ok(e) => e,
        Err(e) => panic!("connect {}: {e}", db.url),
    };
    e.deploy(program).await.expect("deploy");
    e
}

fn agent() -> Actor {
    Actor::new("ann", &["agent"])
}

fn analyst() -> Actor {
    Actor::new("abe", &["analyst"])
}

async fn major_case(e: &Engine) -> i64 {
    let v = e
        .start(
            "case",
            &agent(),
            &json!({
                "summary": "Payroll down",
                "priority": "P1",
                "major": true,
                "effort": 3,
                "notes": "called the vendor",
            }),
        )
        .await
        .expect("start case");
    assert_eq!(v.revision, 1);
    v.id
}

async fn entering_spawns_a_linked_instance(db: &TestDb) {
    let e = engine_with(db, &links_program()).await;
    let id = major_case(&e).await;
    let v = e
        .fire(id, "resolve", &agent(), &json!({}), Some(1))
        .await
        .expect("resolve");
    // resolve (seq 2), then the spawn event (seq 3) that links the child.
    assert_eq!((v.state.as_str(), v.revision), ("resolved", 3));
    let child = v.record["followup"].as_i64().expect("linked id");
    assert_ne!(child, id);

    // The child: the active follow-up definition, started by system:spawn
    // even though `started by analyst`, with the fields of the same name
    // and type (not `effort`, an int here and text there; not the log).
    let c = e.show(child).await.expect("show child");
    assert_eq!((c.process.as_str(), c.state.as_str()), ("followup", "new"));
    assert_eq!(
        c.record,
        json!({ "summary": "Payroll down", "priority": "P1" })
    );
    let by = c.spawned_by.as_ref().expect("spawned_by");
    assert_eq!((by.process.as_str(), by.instance), ("case", id));
    let history = e.history(child).await.expect("child history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].kind, "start");
    assert_eq!(history[0].actor, SPAWN_ACTOR);
    assert_eq!(
        history[0].patch[SPAWNED_BY],
        json!({ "process": "case", "instance": id })
    );

    // The spawning side: a `spawn` event setting the link field.
    let p = e.show(id).await.expect("show case");
    assert_eq!(p.revision, 3);
    assert_eq!(p.spawned.len(), 1);
    assert_eq!(p.spawned[0].process, "followup");
    assert_eq!(p.spawned[0].instance, child);
    assert_eq!(p.spawned[0].seq, 3);
    assert_eq!(p.spawned[0].field.as_deref(), Some("followup"));
    assert!(p.spawned_by.is_none());
    let history = e.history(id).await.expect("case history");
    let spawn = &history[2];
    assert_eq!(
        (spawn.kind.as_str(), spawn.actor.as_str()),
        ("spawn", SPAWN_ACTOR)
    );
    assert_eq!(
        (spawn.from.as_deref(), spawn.to.as_str()),
        (Some("resolved"), "resolved")
    );
    assert_eq!(spawn.patch["followup"], json!(child));
    assert_eq!(
        spawn.patch[SPAWNED],
        json!({ "process": "followup", "instance": child })
    );
    assert_eq!(spawn.prev_hash, history[1].hash);

    // The normal start path: the child's `on enter` notification and its
    // timer exist.
    // The child's requester is the case's: whoever raised it, not
    // `system:spawn`.
    let rows = e.outbox(false).await.expect("outbox");
    let mut got: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.instance_id,
                r.event_seq,
                r.recipient_role.as_str(),
                r.recipient_id.as_deref(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (child, 1, "analyst", None),
            (child, 1, "requester", Some(agent().id.as_str())),
        ],
        "{rows:?}"
    );
    let later = Timestamp::now() + SignedDuration::from_hours(24 * 4);
    let tick = e.tick(later).await.expect("tick");
    assert_eq!(tick.fired.len(), 1, "{tick:?}");
    assert_eq!(tick.fired[0].instance, child);

    // The stale revision from before the spawn is refused.
    let stale = e.fire(id, "close", &agent(), &json!({}), Some(2)).await;
    assert!(
        matches!(stale, Err(RuntimeError::Conflict { .. })),
        "{stale:?}"
    );

    let report = e.verify().await.expect("verify");
    assert!(report.ok, "{report:?}");
    assert_eq!(report.instances, 2);
}

async fn the_guard_stops_a_second_spawn(db: &TestDb) {
    let e = engine_with(db, &links_program()).await;
    let id = major_case(&e).await;
    e.fire(id, "resolve", &agent(), &json!({}), None)
        .await
        .expect("resolve");
    e.fire(id, "reopen", &agent(), &json!({}), None)
        .await
        .expect("reopen");
    // The link is set: `record.followup == ()` is false, nothing spawns.
    let v = e
        .fire(id, "resolve", &agent(), &json!({}), None)
        .await
        .expect("resolve again");
    assert_eq!(v.revision, 5);
    assert_eq!(db.count("SELECT COUNT(*) FROM instances").await, 2);

    // A case that is not major spawns nothing when resolved.
    let minor = e
        .start(
            "case",
            &agent(),
            &json!({ "summary": "Typo", "priority": "P2" }),
        )
        .await
        .expect("start minor");
    let v = e
        .fire(minor.id, "resolve", &agent(), &json!({}), None)
        .await
        .expect("resolve minor");
    assert_eq!(v.revision, 2);
    assert!(v.record.get("followup").is_none());
    assert!(e.show(minor.id).await.expect("show").spawned.is_empty());
    assert_eq!(db.count("SELECT COUNT(*) FROM instances").await, 3);
    assert!(e.verify().await.expect("verify").ok);
}

async fn an_unlinked_spawn_is_recorded_on_both_sides(db: &TestDb) {
    let e = engine_with(db, &links_program()).await;
    let id = major_case(&e).await;
    e.fire(id, "resolve", &agent(), &json!({}), None)
        .await
        .expect("resolve");
    let v = e
        .fire(id, "close", &agent(), &json!({}), None)
        .await
        .expect("close");
    // close (seq 4), then the spawn of the audit note (seq 5).
    assert_eq!((v.state.as_str(), v.revision), ("closed", 5));
    let p = e.show(id).await.expect("show");
    let spawned: Vec<(&str, Option<&str>)> = p
        .spawned
        .iter()
        .map(|l| (l.process.as_str(), l.field.as_deref()))
        .collect();
    assert_eq!(
        spawned,
        [("followup", Some("followup")), ("audit_note", None)]
    );
    let note = p.spawned[1].instance;
    let n = e.show(note).await.expect("show note");
    assert_eq!(n.process, "audit_note");
    assert_eq!(n.record, json!({ "summary": "Payroll down" }));
    assert_eq!(n.spawned_by.as_ref().map(|l| l.instance), Some(id));
    let history = e.history(id).await.expect("history");
    let last = history.last().expect("events");
    assert_eq!(last.kind, "spawn");
    assert_eq!(
        last.patch,
        json!({ SPAWNED: { "process": "audit_note", "instance": note } })
    );
    // The spawned follow-up goes on by itself.
    let followup = p.spawned[0].instance;
    e.fire(followup, "finish", &analyst(), &json!({}), None)
        .await
        .expect("finish follow-up");
    assert!(e.verify().await.expect("verify").ok);
}

async fn an_undeployed_spawn_refuses_the_step(db: &TestDb) {
    let mut partial = links_program();
    partial.processes.retain(|p| p.name != "followup");
    let e = engine_with(db, &partial).await;
    let id = major_case(&e).await;
    let events = db.count("SELECT COUNT(*) FROM events").await;
    let err = e
        .fire(id, "resolve", &agent(), &json!({}), None)
        .await
        .expect_err("the spawn cannot start");
    match &err {
        RuntimeError::SpawnRefused {
            process,
            instance,
            state,
            spawned,
            reason,
        } => {
            assert_eq!(
                (
                    process.as_str(),
                    *instance,
                    state.as_str(),
                    spawned.as_str()
                ),
                ("case", Some(id), "resolved", "followup")
            );
            assert!(
                matches!(**reason, RuntimeError::NotDeployed { .. }),
                "{reason:?}"
            );
        }
        other => panic!("expected a spawn refusal, got {other:?}"),
    }
    assert!(err.is_refusal());
    assert_eq!(err.code(), "spawn_refused");
    let text = err.to_string();
    assert!(
        text.contains("`case` ") && text.contains("`followup`") && text.contains("not deployed"),
        "{text}"
    );
    assert!(err.help().is_some_and(|h| h.contains("pdca deploy")));
    // Nothing changed.
    let v = e.show(id).await.expect("show");
    assert_eq!((v.state.as_str(), v.revision), ("open", 1));
    assert_eq!(db.count("SELECT COUNT(*) FROM events").await, events);
    assert_eq!(db.count("SELECT COUNT(*) FROM instances").await, 1);
    assert_eq!(db.count("SELECT COUNT(*) FROM outbox").await, 0);

    // Deploying the missing process makes the same step go through.
    e.deploy(&links_program()).await.expect("deploy all");
    let v = e
        .fire(id, "resolve", &agent(), &json!({}), None)
        .await
        .expect("resolve");
    assert_eq!(v.revision, 3);
    assert!(e.verify().await.expect("verify").ok);
}

async fn a_spawn_cycle_stops_at_the_depth_limit(db: &TestDb) {
    let e = engine_with(db, &links_program()).await;
    let err = e
        .start("ping", &agent(), &json!({ "summary": "rally" }))
        .await
        .expect_err("a cycle");
    match &err {
        RuntimeError::SpawnTooDeep { chain, limit } => {
            assert_eq!(*limit, MAX_SPAWN_DEPTH);
            // ping → pong → … : the starter and MAX_SPAWN_DEPTH spawned
            // instances, then the refused spawn.
            assert_eq!(chain.len(), MAX_SPAWN_DEPTH + 2, "{chain:?}");
            assert_eq!(chain[0], "ping");
            assert_eq!(chain[1], "pong");
            assert_eq!(chain[2], "ping");
        }
        other => panic!("expected the depth limit, got {other:?}"),
    }
    assert_eq!(err.code(), "spawn_too_deep");
    assert!(
        err.to_string().contains("`ping` → `pong` → `ping`"),
        "{err}"
    );
    assert!(err.help().is_some_and(|h| h.contains("cycle")));
    assert_eq!(db.count("SELECT COUNT(*) FROM instances").await, 0);
    assert_eq!(db.count("SELECT COUNT(*) FROM events").await, 0);
}

async fn a_failing_spawn_condition_refuses_the_step(db: &TestDb) {
    let e = engine_with(db, &links_program()).await;
    let v = e
        .start(
            "flaky",
            &agent(),
            &json!({ "summary": "Odd", "priority": "P2", "effort": 3 }),
        )
        .await
        .expect("start");
    let err = e
        .fire(v.id, "close", &agent(), &json!({}), None)
        .await
        .expect_err("the condition divides by zero");
    match &err {
        RuntimeError::SpawnGuardFailed {
            process,
            state,
            spawned,
            guard,
            ..
        } => assert_eq!(
            (
                process.as_str(),
                state.as_str(),
                spawned.as_str(),
                guard.as_str()
            ),
            ("flaky", "closed", "audit_note", "record.effort / 0 == 1")
        ),
        other => panic!("expected a failed spawn condition, got {other:?}"),
    }
    assert!(err.is_refusal());
    assert!(err.to_string().contains("could not be evaluated"), "{err}");
    let shown = e.show(v.id).await.expect("show");
    assert_eq!((shown.state.as_str(), shown.revision), ("open", 1));
    assert_eq!(db.count("SELECT COUNT(*) FROM instances").await, 1);
}
