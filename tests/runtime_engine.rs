//! Runtime scenarios, each run on SQLite (a temp file) and on PostgreSQL (a
//! schema of its own): deploy and versions, start validation, firing and
//! every refusal, concurrent writers, audit chain tampering, migrations.

mod runtime_support;

use std::sync::Arc;

use pdca::runtime::audit::ProblemKind as AuditKind;
use pdca::runtime::engine::{DeployStatus, InstanceView};
use pdca::runtime::error::ProblemKind;
use pdca::runtime::store::{MIGRATION_COUNT, SCHEMA_VERSION};
use pdca::runtime::{Actor, Engine, RuntimeError};
use runtime_support::{ticket_program, TestDb, TICKET};
use serde_json::{json, Value};

on_both_backends!(
    deploy_is_idempotent_and_versions_pin_instances,
    start_refuses_bad_records_and_changes_nothing,
    start_applies_defaults_and_derives_fields,
    fire_happy_path,
    fire_refusals_change_nothing,
    concurrent_writers_one_wins_no_lost_update,
    audit_detects_tampering,
    migrations_are_idempotent_and_newer_schemas_refused,
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

fn resolver() -> Actor {
    Actor::new("rob", &["resolver"])
}

fn manager() -> Actor {
    Actor::new("mia", &["incident_manager"])
}

fn fields() -> Value {
    json!({
        "summary": "Printer on fire",
        "reported_by": "sam",
        "impact": "high",
        "urgency": "medium",
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        b.extend(e);
    }
    base
}

fn without(mut base: Value, key: &str) -> Value {
    if let Value::Object(b) = &mut base {
        b.remove(key);
    }
    base
}

async fn deployed(db: &TestDb) -> Engine {
    let e = engine(db).await;
    e.deploy(&ticket_program()).await.expect("deploy");
    e
}

async fn start(e: &Engine) -> InstanceView {
    e.start("ticket", &desk(), &fields()).await.expect("start")
}

async fn events(db: &TestDb) -> i64 {
    db.count("SELECT COUNT(*) FROM events").await
}

async fn instances(db: &TestDb) -> i64 {
    db.count("SELECT COUNT(*) FROM instances").await
}

/// An instance moved through `path` (transition, actor, patch).
async fn instance_at(e: &Engine, path: &[(&str, Actor, Value)]) -> InstanceView {
    let mut v = start(e).await;
    for (t, actor, patch) in path {
        v = e
            .fire(v.id, t, actor, patch, Some(v.revision))
            .await
            .unwrap_or_else(|err| panic!("fire {t}: {err}"));
    }
    v
}

fn triaged() -> Vec<(&'static str, Actor, Value)> {
    vec![("triage", desk(), json!({"category": "software"}))]
}

fn working() -> Vec<(&'static str, Actor, Value)> {
    let mut p = triaged();
    p.push(("work", resolver(), json!({})));
    p
}

fn invalid_kinds(err: &RuntimeError) -> Vec<(String, ProblemKind)> {
    match err {
        RuntimeError::InvalidFields { problems } => problems
            .iter()
            .map(|p| (p.field.clone(), p.kind.clone()))
            .collect(),
        other => panic!("expected invalid fields, got: {other}"),
    }
}

// ---------------------------------------------------------------- deploy

async fn deploy_is_idempotent_and_versions_pin_instances(db: &TestDb) {
    let e = engine(db).await;
    let v1 = ticket_program();
    let first = e.deploy(&v1).await.expect("deploy");
    assert_eq!(first.processes.len(), 2);
    assert!(first
        .processes
        .iter()
        .all(|p| p.status == DeployStatus::Created && p.version == 1));

    let again = e.deploy(&v1).await.expect("deploy again");
    assert!(again
        .processes
        .iter()
        .all(|p| p.status == DeployStatus::Unchanged && p.version == 1));
    assert_eq!(
        first.processes[0].definition_id,
        again.processes[0].definition_id
    );

    // Comments and layout are not content.
    let reformatted = runtime_support::ticket_from(&TICKET.replace(
        "  state new     initial",
        "  // the entry state\n  state new initial",
    ));
    let r = e.deploy(&reformatted).await.expect("deploy reformatted");
    assert!(r
        .processes
        .iter()
        .all(|p| p.status == DeployStatus::Unchanged));

    let old = start(&e).await;
    assert_eq!(old.version, 1);

    let v2_text = TICKET.replace(
        "  transition expire",
        "  transition reject  new -> expired     by service_desk\n  transition expire",
    );
    let v2 = runtime_support::ticket_from(&v2_text);
    let r = e.deploy(&v2).await.expect("deploy v2");
    let ticket = r
        .processes
        .iter()
        .find(|p| p.process == "ticket")
        .expect("ticket");
    let memo = r
        .processes
        .iter()
        .find(|p| p.process == "memo")
        .expect("memo");
    assert_eq!((ticket.status, ticket.version), (DeployStatus::Updated, 2));
    assert_eq!((memo.status, memo.version), (DeployStatus::Unchanged, 1));

    let new = start(&e).await;
    assert_eq!(new.version, 2);
    assert!(new.next.contains(&"reject".to_string()));
    // The old instance stays on version 1: `reject` does not exist there.
    let shown = e.show(old.id).await.expect("show");
    assert_eq!(shown.version, 1);
    assert!(!shown.next.contains(&"reject".to_string()));
    let err = e
        .fire(old.id, "reject", &desk(), &json!({}), None)
        .await
        .expect_err("v1 has no reject");
    assert!(
        matches!(err, RuntimeError::UnknownTransition { .. }),
        "{err}"
    );
    let done = e
        .fire(new.id, "reject", &desk(), &json!({}), None)
        .await
        .expect("v2 has reject");
    assert_eq!(done.state, "expired");

    // Deploying v1's content again makes v1 current; no third version.
    let r = e.deploy(&v1).await.expect("redeploy v1");
    let ticket = r
        .processes
        .iter()
        .find(|p| p.process == "ticket")
        .expect("ticket");
    assert_eq!(
        (ticket.status, ticket.version),
        (DeployStatus::Reactivated, 1)
    );
    assert_eq!(start(&e).await.version, 1);
    assert_eq!(db.count("SELECT COUNT(*) FROM definitions").await, 3);

    let list = e.list(Some("ticket"), None, 100, None).await.expect("list");
    assert_eq!(
        list.iter().map(|i| i.version).collect::<Vec<_>>(),
        vec![1, 2, 1]
    );
    let expired = e
        .list(None, Some("expired"), 100, None)
        .await
        .expect("list");
    assert_eq!(expired.len(), 1);
    assert!(e.verify().await.expect("verify").ok);
}

// ----------------------------------------------------------------- start

async fn start_refuses_bad_records_and_changes_nothing(db: &TestDb) {
    let e = deployed(db).await;

    let err = e
        .start("tickt", &desk(), &fields())
        .await
        .expect_err("not deployed");
    assert!(matches!(err, RuntimeError::NotDeployed { .. }), "{err}");
    assert!(err.to_string().contains("did you mean `ticket`"), "{err}");

    let err = e
        .start("ticket", &resolver(), &fields())
        .await
        .expect_err("role");
    match &err {
        RuntimeError::RoleMissing { allowed, .. } => {
            assert_eq!(allowed, &vec!["service_desk".to_string()])
        }
        other => panic!("expected a missing role, got {other}"),
    }

    let err = e
        .start("ticket", &Actor::new(" ", &["service_desk"]), &fields())
        .await
        .expect_err("no actor id");
    assert!(matches!(err, RuntimeError::InvalidActor { .. }), "{err}");

    let err = e
        .start("ticket", &desk(), &with(fields(), json!({"summry": "x"})))
        .await
        .expect_err("unknown field");
    assert_eq!(
        invalid_kinds(&err),
        vec![("summry".into(), ProblemKind::Unknown)]
    );
    assert!(err.to_string().contains("did you mean `summary`"), "{err}");

    let wrong_types = [
        ("summary", json!(5)),
        ("effort", json!("many")),
        ("effort", json!(1.5)),
        ("cost", json!("cheap")),
        ("major", json!("yes")),
        ("due", json!("2026-13-01")),
        ("due", json!("01/02/2026")),
        ("seen_at", json!("2026-01-01")),
        ("seen_at", json!("yesterday")),
        ("budget", json!("soon")),
        ("impact", json!("extreme")),
        ("category", json!("food")),
        ("tags", json!("x")),
        ("tags", json!([1])),
        ("parent", json!("abc")),
        ("notes", json!(5)),
        ("notes", json!({"text": "x", "actor": "someone else"})),
    ];
    for (field, value) in wrong_types {
        let err = e
            .start("ticket", &desk(), &with(fields(), json!({ field: value })))
            .await
            .expect_err(field);
        assert_eq!(
            invalid_kinds(&err),
            vec![(field.to_string(), ProblemKind::WrongType)],
            "{field} = {value}: {err}"
        );
    }

    let err = e
        .start("ticket", &desk(), &with(fields(), json!({"parent": 999})))
        .await
        .expect_err("no such parent");
    assert_eq!(
        invalid_kinds(&err),
        vec![("parent".into(), ProblemKind::NoSuchInstance)]
    );

    let err = e
        .start(
            "ticket",
            &desk(),
            &with(fields(), json!({"priority": "P1"})),
        )
        .await
        .expect_err("derived");
    assert_eq!(
        invalid_kinds(&err),
        vec![("priority".into(), ProblemKind::Derived)]
    );

    let err = e
        .start("ticket", &desk(), &json!(["not", "an", "object"]))
        .await
        .expect_err("not an object");
    assert!(matches!(err, RuntimeError::InvalidFields { .. }), "{err}");

    // Several problems are reported together.
    let err = e
        .start(
            "ticket",
            &desk(),
            &with(
                fields(),
                json!({"impact": "huge", "effort": "x", "nope": 1}),
            ),
        )
        .await
        .expect_err("three problems");
    assert_eq!(invalid_kinds(&err).len(), 3, "{err}");

    let err = e
        .start("ticket", &desk(), &without(fields(), "summary"))
        .await
        .expect_err("required");
    assert_eq!(
        err,
        RuntimeError::MissingFields {
            fields: vec!["summary".into()],
            needed_for: "starting `ticket` (in `new`)".into()
        }
    );
    let err = e
        .start("ticket", &desk(), &without(fields(), "reported_by"))
        .await
        .expect_err("required at new");
    assert!(
        matches!(&err, RuntimeError::MissingFields { fields, .. } if fields == &vec!["reported_by".to_string()]),
        "{err}"
    );
    // `null` at start means "not set".
    let err = e
        .start("ticket", &desk(), &with(fields(), json!({"summary": null})))
        .await
        .expect_err("null is unset");
    assert!(matches!(err, RuntimeError::MissingFields { .. }), "{err}");

    assert_eq!(instances(db).await, 0);
    assert_eq!(events(db).await, 0);
    assert!(e
        .list(None, None, 100, None)
        .await
        .expect("list")
        .is_empty());

    // A link to an instance of the wrong process.
    let ticket = start(&e).await;
    let err = e
        .start(
            "ticket",
            &desk(),
            &with(fields(), json!({"memo": ticket.id})),
        )
        .await
        .expect_err("wrong process");
    assert_eq!(
        invalid_kinds(&err),
        vec![("memo".into(), ProblemKind::NoSuchInstance)]
    );
    assert!(
        err.to_string().contains("is a `ticket`, not a `memo`"),
        "{err}"
    );
    assert_eq!(instances(db).await, 1);
    assert_eq!(events(db).await, 1);
}

async fn start_applies_defaults_and_derives_fields(db: &TestDb) {
    let e = deployed(db).await;
    let parent = start(&e).await;
    let memo = e
        .start("memo", &resolver(), &json!({"text": "see also"}))
        .await
        .expect("memo");
    let v = e
        .start(
            "ticket",
            &desk(),
            &with(
                fields(),
                json!({
                    "effort": 3,
                    "cost": 12.5,
                    "due": "2026-03-31",
                    "seen_at": "2026-03-01T09:30:00+01:00",
                    "tags": ["printer", "floor-2"],
                    "parent": parent.id.to_string(),
                    "memo": memo.id,
                    "notes": ["first", {"text": "second"}],
                }),
            ),
        )
        .await
        .expect("start");
    assert_eq!(v.state, "new");
    assert_eq!(v.revision, 1);
    assert_eq!(v.version, 1);
    let r = &v.record;
    assert_eq!(r["priority"], json!("P2"), "high x medium");
    assert_eq!(r["major"], json!(false), "default");
    assert_eq!(r["budget"], json!("4 hours"), "default, spelt canonically");
    assert_eq!(r["parent"], json!(parent.id), "ids are stored as numbers");
    assert_eq!(r["notes"].as_array().map(Vec::len), Some(2));
    assert_eq!(r["notes"][0]["actor"], json!("dana"));
    assert_eq!(r["notes"][1]["text"], json!("second"));
    assert!(r.get("category").is_none(), "unset fields are absent");
    assert_eq!(v.next, vec!["triage".to_string()]);

    let history = e.history(v.id).await.expect("history");
    assert_eq!(history.len(), 1);
    let start_event = &history[0];
    assert_eq!(start_event.kind, "start");
    assert_eq!(start_event.to, "new");
    assert_eq!(start_event.from, None);
    assert_eq!(start_event.roles, json!(["service_desk"]));
    assert_eq!(
        start_event.patch["major"],
        json!(false),
        "defaults are in the event"
    );
    assert!(
        start_event.patch.get("priority").is_none(),
        "derived fields are not"
    );
    assert_eq!(start_event.prev_hash, "0".repeat(64));
}

// ------------------------------------------------------------------ fire

async fn fire_happy_path(db: &TestDb) {
    let e = deployed(db).await;
    let v = start(&e).await;
    assert_eq!(v.record["priority"], json!("P2"));

    let v = e
        .fire(
            v.id,
            "triage",
            &desk(),
            &json!({"category": "software", "impact": "low", "notes": "triaged by phone"}),
            Some(1),
        )
        .await
        .expect("triage");
    assert_eq!((v.state.as_str(), v.revision), ("triaged", 2));
    assert_eq!(v.record["category"], json!("software"));
    assert_eq!(
        v.record["priority"],
        json!("P4"),
        "recomputed: low x medium"
    );
    assert_eq!(v.record["notes"][0]["actor"], json!("dana"));

    let v = e
        .fire(v.id, "work", &resolver(), &json!({}), None)
        .await
        .expect("work");
    assert_eq!((v.state.as_str(), v.revision), ("working", 3));

    let v = e
        .fire(
            v.id,
            "note",
            &resolver(),
            &json!({"tags": ["a", "b"], "notes": "looked at it", "effort": 2}),
            Some(3),
        )
        .await
        .expect("note");
    assert_eq!((v.state.as_str(), v.revision), ("working", 4));
    assert_eq!(
        v.record["notes"].as_array().map(Vec::len),
        Some(2),
        "appended"
    );

    let v = e
        .fire(
            v.id,
            "hold",
            &resolver(),
            &json!({"hold_reason": "waiting for parts"}),
            None,
        )
        .await
        .expect("hold");
    assert_eq!(v.state, "waiting");
    let v = e
        .fire(
            v.id,
            "resume",
            &resolver(),
            &json!({"hold_reason": null}),
            None,
        )
        .await
        .expect("resume");
    assert_eq!(v.state, "working");
    assert!(v.record.get("hold_reason").is_none(), "null clears a field");

    // A person with several roles; only one needs to match.
    let both = Actor::new("pat", &["service_desk", "resolver"]);
    let v = e
        .fire(
            v.id,
            "finish",
            &both,
            &json!({"resolution": "replaced the fuser"}),
            None,
        )
        .await
        .expect("finish");
    assert_eq!((v.state.as_str(), v.revision), ("done", 7));
    assert!(v.next.is_empty(), "a final state");

    let history = e.history(v.id).await.expect("history");
    assert_eq!(history.len(), 7);
    assert_eq!(
        history.iter().map(|h| h.seq).collect::<Vec<_>>(),
        (1..=7).collect::<Vec<_>>()
    );
    for pair in history.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "the chain links");
    }
    assert_eq!(history[1].transition.as_deref(), Some("triage"));
    assert_eq!(history[1].from.as_deref(), Some("new"));
    assert_eq!(history[1].patch["category"], json!("software"));
    assert_eq!(history[6].actor, "pat");
    assert_eq!(history[6].roles, json!(["service_desk", "resolver"]));

    let shown = e.show(v.id).await.expect("show");
    assert_eq!(shown, v);
    let report = e.verify().await.expect("verify");
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!((report.instances, report.events), (1, 7));
}

/// Fires and expects a refusal that leaves the instance as it was.
async fn refused(
    e: &Engine,
    db: &TestDb,
    id: i64,
    transition: &str,
    actor: &Actor,
    patch: Value,
    revision: Option<i64>,
) -> RuntimeError {
    let before = e.show(id).await.ok();
    let events_before = events(db).await;
    let err = match e.fire(id, transition, actor, &patch, revision).await {
        Ok(v) => panic!("`{transition}` with {patch} should be refused, got {v:?}"),
        Err(err) => err,
    };
    assert!(err.is_refusal(), "{err}");
    assert_eq!(
        e.show(id).await.ok(),
        before,
        "{transition}: instance changed"
    );
    assert_eq!(
        events(db).await,
        events_before,
        "{transition}: event appended"
    );
    err
}

async fn fire_refusals_change_nothing(db: &TestDb) {
    let e = deployed(db).await;
    let fresh = start(&e).await;
    let t = instance_at(&e, &triaged()).await;
    let w = instance_at(&e, &working()).await;

    let err = refused(&e, db, 9999, "work", &resolver(), json!({}), None).await;
    assert_eq!(err, RuntimeError::UnknownInstance { id: 9999 });

    let err = refused(&e, db, t.id, "wrok", &resolver(), json!({}), None).await;
    match &err {
        RuntimeError::UnknownTransition { allowed, state, .. } => {
            assert_eq!(state, "triaged");
            assert_eq!(allowed, &vec!["work", "escalate", "probe"]);
        }
        other => panic!("expected an unknown transition, got {other}"),
    }
    assert!(err.to_string().contains("`work`"), "{err}");

    let err = refused(&e, db, t.id, "finish", &resolver(), json!({}), None).await;
    assert!(
        matches!(&err, RuntimeError::NotAllowedFromState { from, .. } if from == &vec!["working".to_string()]),
        "{err}"
    );

    let err = refused(&e, db, fresh.id, "expire", &desk(), json!({}), None).await;
    assert_eq!(
        err,
        RuntimeError::AutomaticTransition {
            transition: "expire".into(),
            after: Some("3 days".into())
        }
    );

    let err = refused(&e, db, t.id, "work", &desk(), json!({}), None).await;
    assert!(
        matches!(&err, RuntimeError::RoleMissing { allowed, .. } if allowed == &vec!["resolver".to_string()]),
        "{err}"
    );
    let nobody = Actor::new("guest", &[]);
    let err = refused(&e, db, t.id, "work", &nobody, json!({}), None).await;
    assert!(matches!(err, RuntimeError::RoleMissing { .. }), "{err}");

    let err = refused(&e, db, t.id, "escalate", &manager(), json!({}), None).await;
    assert!(matches!(err, RuntimeError::GuardFalse { .. }), "{err}");
    // The guard sees the record after the patch.
    let err = refused(
        &e,
        db,
        t.id,
        "work",
        &resolver(),
        json!({"major": true}),
        None,
    )
    .await;
    assert!(matches!(err, RuntimeError::GuardFalse { .. }), "{err}");

    let err = refused(&e, db, t.id, "probe", &desk(), json!({}), None).await;
    assert!(matches!(err, RuntimeError::GuardFailed { .. }), "{err}");
    let err = refused(&e, db, t.id, "probe", &desk(), json!({"effort": 4}), None).await;
    assert!(matches!(err, RuntimeError::GuardFailed { .. }), "{err}");

    let err = refused(&e, db, fresh.id, "triage", &desk(), json!({}), None).await;
    assert_eq!(
        err,
        RuntimeError::MissingFields {
            fields: vec!["category".into()],
            needed_for: "`triage` into `triaged`".into()
        }
    );
    let err = refused(&e, db, w.id, "hold", &resolver(), json!({}), None).await;
    assert!(
        matches!(&err, RuntimeError::MissingFields { fields, .. } if fields == &vec!["hold_reason".to_string()]),
        "{err}"
    );
    // `required at done`.
    let err = refused(&e, db, w.id, "finish", &resolver(), json!({}), None).await;
    assert!(
        matches!(&err, RuntimeError::MissingFields { fields, .. } if fields == &vec!["resolution".to_string()]),
        "{err}"
    );
    // A `required` field cannot be cleared.
    let err = refused(
        &e,
        db,
        w.id,
        "note",
        &resolver(),
        json!({"summary": null}),
        None,
    )
    .await;
    assert!(
        matches!(&err, RuntimeError::MissingFields { fields, .. } if fields == &vec!["summary".to_string()]),
        "{err}"
    );

    let err = refused(
        &e,
        db,
        w.id,
        "note",
        &resolver(),
        json!({"effort": "lots"}),
        None,
    )
    .await;
    assert_eq!(
        invalid_kinds(&err),
        vec![("effort".into(), ProblemKind::WrongType)]
    );
    let err = refused(
        &e,
        db,
        w.id,
        "note",
        &resolver(),
        json!({"notes": null}),
        None,
    )
    .await;
    assert_eq!(
        invalid_kinds(&err),
        vec![("notes".into(), ProblemKind::AppendOnly)]
    );
    let err = refused(
        &e,
        db,
        w.id,
        "note",
        &resolver(),
        json!({"priority": "P1"}),
        None,
    )
    .await;
    assert_eq!(
        invalid_kinds(&err),
        vec![("priority".into(), ProblemKind::Derived)]
    );
    let err = refused(
        &e,
        db,
        w.id,
        "note",
        &resolver(),
        json!({"parent": 4242}),
        None,
    )
    .await;
    assert_eq!(
        invalid_kinds(&err),
        vec![("parent".into(), ProblemKind::NoSuchInstance)]
    );
    let err = refused(&e, db, w.id, "note", &resolver(), json!("text"), None).await;
    assert!(matches!(err, RuntimeError::InvalidFields { .. }), "{err}");

    let err = refused(&e, db, t.id, "work", &resolver(), json!({}), Some(1)).await;
    assert_eq!(
        err,
        RuntimeError::Conflict {
            id: t.id,
            expected: 1,
            actual: Some(2)
        }
    );

    // Untouched by all of the above, and still fireable.
    let v = e
        .fire(t.id, "work", &resolver(), &json!({}), Some(2))
        .await
        .expect("work");
    assert_eq!(v.revision, 3);
    assert!(e.verify().await.expect("verify").ok);
}

// ----------------------------------------------------------- concurrency

async fn concurrent_writers_one_wins_no_lost_update(db: &TestDb) {
    let e = Arc::new(deployed(db).await);
    let v = start(&e).await;

    let fire = |category: &'static str| {
        let e = e.clone();
        tokio::spawn(async move {
            e.fire(
                v.id,
                "triage",
                &desk(),
                &json!({ "category": category }),
                Some(1),
            )
            .await
        })
    };
    let (a, b) = (fire("hardware"), fire("software"));
    let results = [a.await.expect("task a"), b.await.expect("task b")];
    let winners: Vec<&InstanceView> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let loser = results
        .iter()
        .find_map(|r| r.as_ref().err())
        .expect("one loses");
    assert!(
        matches!(loser, RuntimeError::Conflict { expected: 1, .. }),
        "{loser}"
    );
    let now = e.show(v.id).await.expect("show");
    assert_eq!(now.revision, 2);
    assert_eq!(now.record["category"], winners[0].record["category"]);
    assert_eq!(e.history(v.id).await.expect("history").len(), 2);

    // Many writers without an expected revision: each one that succeeds is
    // kept, each one that loses is told so.
    let v = e
        .fire(v.id, "work", &resolver(), &json!({}), None)
        .await
        .expect("work");
    let tasks: Vec<_> = (0..8)
        .map(|k| {
            let e = e.clone();
            tokio::spawn(async move {
                e.fire(
                    v.id,
                    "note",
                    &resolver(),
                    &json!({ "notes": format!("note {k}") }),
                    None,
                )
                .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => ok += 1,
            Err(RuntimeError::Conflict { .. }) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert!(ok >= 1);
    let now = e.show(v.id).await.expect("show");
    assert_eq!(now.revision, v.revision + ok);
    assert_eq!(
        now.record["notes"].as_array().map(Vec::len),
        Some(ok as usize)
    );
    assert_eq!(
        e.history(v.id).await.expect("history").len() as i64,
        now.revision
    );
    let report = e.verify().await.expect("verify");
    assert!(report.ok, "{:?}", report.problems);
}

// ----------------------------------------------------------------- audit

async fn audit_detects_tampering(db: &TestDb) {
    let e = deployed(db).await;
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(instance_at(&e, &working()).await.id);
    }
    let [altered, deleted, inserted, reordered, state, record, clean] = ids[..] else {
        unreachable!()
    };
    let clean_report = e.verify().await.expect("verify");
    assert!(clean_report.ok);
    assert_eq!((clean_report.instances, clean_report.events), (7, 21));

    // The triggers refuse edits by mistake...
    let blocked = db
        .try_exec(&format!(
            "UPDATE events SET actor = 'x' WHERE instance_id = {altered}"
        ))
        .await;
    assert!(
        blocked.as_ref().is_err_and(|e| e.contains("append-only")),
        "{blocked:?}"
    );
    let blocked = db
        .try_exec(&format!("DELETE FROM events WHERE instance_id = {deleted}"))
        .await;
    assert!(blocked.is_err(), "{blocked:?}");

    // ...but someone with write access can drop them.
    db.drop_append_only_triggers().await;
    db.exec(&[
        &format!(
            "UPDATE events SET patch = '{{\"category\":\"hardware\"}}' WHERE instance_id = {altered} AND seq = 2"
        ),
        &format!("DELETE FROM events WHERE instance_id = {deleted} AND seq = 2"),
        &format!(
            "INSERT INTO events (instance_id, seq, at, actor, actor_roles, kind, transition, \
             from_state, to_state, patch, prev_hash, hash) \
             SELECT instance_id, 4, at, actor, actor_roles, kind, transition, from_state, \
             to_state, patch, hash, hash FROM events WHERE instance_id = {inserted} AND seq = 3"
        ),
        &format!("UPDATE events SET seq = 100 WHERE instance_id = {reordered} AND seq = 2"),
        &format!("UPDATE events SET seq = 2 WHERE instance_id = {reordered} AND seq = 3"),
        &format!("UPDATE events SET seq = 3 WHERE instance_id = {reordered} AND seq = 100"),
        &format!("UPDATE instances SET state = 'done' WHERE id = {state}"),
        &format!(
            "UPDATE instances SET record = REPLACE(record, 'software', 'hardware') WHERE id = {record}"
        ),
    ])
    .await;

    let report = e.verify().await.expect("verify");
    assert!(!report.ok);
    assert_eq!(report.instances, 7);
    let found: Vec<(i64, Option<i64>, AuditKind)> = report
        .problems
        .iter()
        .map(|p| (p.instance, p.seq, p.kind))
        .collect();
    assert_eq!(
        found,
        vec![
            (altered, Some(2), AuditKind::Altered),
            (deleted, Some(2), AuditKind::Deleted),
            (inserted, Some(4), AuditKind::Inserted),
            (reordered, Some(2), AuditKind::Reordered),
            (state, Some(3), AuditKind::StateMismatch),
            (record, Some(3), AuditKind::RecordMismatch),
        ],
        "{:#?}",
        report.problems
    );
    assert!(!found.iter().any(|(i, _, _)| *i == clean));
    for p in &report.problems {
        assert_eq!(p.process, "ticket");
        if let Some(seq) = p.seq {
            assert!(p.message.contains(&format!("seq {seq}")), "{}", p.message);
        }
    }
    assert!(report.problems[5].message.contains("`category`"));
}

// ------------------------------------------------------------ migrations

async fn migrations_are_idempotent_and_newer_schemas_refused(db: &TestDb) {
    let e = deployed(db).await;
    start(&e).await;
    e.store().close().await;
    for _ in 0..2 {
        let again = engine(db).await;
        assert_eq!(
            again.list(None, None, 100, None).await.expect("list").len(),
            1
        );
        again.store().close().await;
    }
    assert_eq!(
        db.count("SELECT COUNT(*) FROM pdca_schema_migrations")
            .await,
        MIGRATION_COUNT as i64
    );
    assert_eq!(
        db.count("SELECT MAX(version) FROM pdca_schema_migrations")
            .await,
        SCHEMA_VERSION
    );

    let newer = SCHEMA_VERSION + 1;
    db.record_future_schema_version(newer).await;
    let err = match Engine::connect(&db.url).await {
        Ok(_) => panic!("a newer schema must be refused"),
        Err(err) => err,
    };
    assert_eq!(
        err,
        RuntimeError::SchemaTooNew {
            found: newer,
            supported: SCHEMA_VERSION
        }
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!("schema version is {newer}"))
            && message.contains(&format!("up to version {SCHEMA_VERSION}")),
        "{message}"
    );
    assert!(!err.is_refusal());
    assert_eq!(instances(db).await, 1, "nothing was touched");
}
