//! Approvals at run time, each scenario on SQLite and on PostgreSQL: quorums
//! (`N`, `all`), rejection, segregation of duties, refusals that change
//! nothing, fresh rounds on re-entry, and a clean audit after decisions.

mod runtime_support;

use pdca::runtime::approval::Decision;
use pdca::runtime::engine::InstanceView;
use pdca::runtime::{Actor, Engine, RuntimeError};
use runtime_support::{approvals_program, TestDb};
use serde_json::{json, Value};

on_both_backends!(
    quorum_two_distinct_reviewers_approve,
    a_rejection_takes_the_rejected_path,
    the_requester_may_not_approve_their_own_request,
    an_approver_needs_an_approver_role,
    the_same_person_cannot_decide_twice,
    all_needs_each_approver_role,
    other_refusals_change_nothing,
    audit_verify_is_clean_after_decisions,
    re_entering_the_state_opens_a_fresh_round,
);

fn author() -> Actor {
    Actor::new("ann", &["author"])
}

fn reviewer(id: &str) -> Actor {
    Actor::new(id, &["reviewer"])
}

async fn deployed(db: &TestDb) -> Engine {
    let e = match Engine::connect(&db.url).await {
        Ok(e) => e,
        Err(e) => panic!("connect {}: {e}", db.url),
    };
    e.deploy(&approvals_program()).await.expect("deploy");
    e
}

/// A proposal submitted for peer review by `by`.
async fn in_review(e: &Engine, by: &Actor) -> InstanceView {
    let v = e
        .start("proposal", by, &json!({"summary": "New backup scheme"}))
        .await
        .expect("start");
    e.fire(v.id, "submit", by, &json!({"plan": "Friday"}), Some(1))
        .await
        .expect("submit")
}

async fn decide(
    e: &Engine,
    v: &InstanceView,
    approval: &str,
    who: &Actor,
    d: Decision,
) -> InstanceView {
    e.decide(
        v.id,
        approval,
        who,
        d,
        Some("looks right"),
        Some(v.revision),
    )
    .await
    .unwrap_or_else(|err| panic!("{} {approval} by {}: {err}", d.as_str(), who.id))
}

async fn events(db: &TestDb) -> i64 {
    db.count("SELECT COUNT(*) FROM events").await
}

/// Decides and expects a refusal that leaves everything as it was.
async fn refused(
    e: &Engine,
    db: &TestDb,
    id: i64,
    approval: &str,
    who: &Actor,
    d: Decision,
    revision: Option<i64>,
) -> RuntimeError {
    let before = e.show(id).await.ok();
    let events_before = events(db).await;
    let err = match e.decide(id, approval, who, d, None, revision).await {
        Ok(v) => panic!("{approval} by {} should be refused, got {v:?}", who.id),
        Err(err) => err,
    };
    assert!(err.is_refusal(), "{err}");
    assert_eq!(
        e.show(id).await.ok(),
        before,
        "{approval}: instance changed"
    );
    assert_eq!(
        events(db).await,
        events_before,
        "{approval}: event appended"
    );
    err
}

async fn verify_clean(e: &Engine) {
    let report = e.verify().await.expect("verify");
    assert!(report.ok, "{:?}", report.problems);
}

async fn quorum_two_distinct_reviewers_approve(db: &TestDb) {
    let e = deployed(db).await;
    let v = in_review(&e, &author()).await;
    assert_eq!(v.state, "review");
    assert_eq!(v.approvals.len(), 1);
    assert_eq!(v.approvals[0].name, "peer");
    assert_eq!(v.approvals[0].requester, "ann");
    assert!(v.approvals[0].decisions.is_empty());

    let v = decide(&e, &v, "peer", &reviewer("rita"), Decision::Approve).await;
    assert_eq!(v.state, "review", "one of two approvals");
    assert_eq!(v.revision, 3);
    let shown = e.show(v.id).await.expect("show");
    assert_eq!(shown.approvals[0].decisions.len(), 1);
    assert_eq!(shown.approvals[0].decisions[0].actor, "rita");
    assert_eq!(
        shown.approvals[0].decisions[0].comment.as_deref(),
        Some("looks right")
    );

    let v = decide(&e, &v, "peer", &reviewer("rolf"), Decision::Approve).await;
    assert_eq!(v.state, "board", "quorum 2 reached");
    assert_eq!(v.revision, 5, "decision + automatic move");
    assert_eq!(v.approvals.len(), 1);
    assert_eq!(v.approvals[0].name, "board_ok");
    assert_eq!(v.approvals[0].requester, "system:approval");

    let h = e.history(v.id).await.expect("history");
    let kinds: Vec<&str> = h.iter().map(|ev| ev.kind.as_str()).collect();
    assert_eq!(kinds, ["start", "fire", "decision", "decision", "approved"]);
    assert_eq!(
        h[2].patch,
        json!({"approval": "peer", "decision": "approve", "comment": "looks right"})
    );
    assert_eq!(
        (h[2].from.as_deref(), h[2].to.as_str()),
        (Some("review"), "review")
    );
    assert_eq!(h[4].actor, "system:approval");
    assert_eq!(h[4].transition.as_deref(), Some("peer"));
    assert_eq!(h[4].to, "board");
    // Decisions never touch the record.
    assert_eq!(
        v.record,
        json!({"summary": "New backup scheme", "plan": "Friday"})
    );
    verify_clean(&e).await;
}

async fn a_rejection_takes_the_rejected_path(db: &TestDb) {
    let e = deployed(db).await;
    let v = in_review(&e, &author()).await;
    let v = decide(&e, &v, "peer", &reviewer("rita"), Decision::Approve).await;
    let v = decide(&e, &v, "peer", &reviewer("rolf"), Decision::Reject).await;
    assert_eq!(v.state, "revising", "one rejection is enough");
    assert_eq!(v.revision, 5);
    assert!(v.approvals.is_empty());
    let h = e.history(v.id).await.expect("history");
    assert_eq!(h.last().map(|ev| ev.kind.as_str()), Some("rejected"));
    assert_eq!(
        h.last().map(|ev| ev.actor.as_str()),
        Some("system:approval")
    );
    // The approval is closed now.
    let err = refused(
        &e,
        db,
        v.id,
        "peer",
        &reviewer("rex"),
        Decision::Approve,
        None,
    )
    .await;
    assert!(
        matches!(&err, RuntimeError::ApprovalNotOpen { state, .. } if state == "revising"),
        "{err}"
    );
    verify_clean(&e).await;
}

async fn the_requester_may_not_approve_their_own_request(db: &TestDb) {
    let e = deployed(db).await;
    let both = Actor::new("ann", &["author", "reviewer"]);
    let v = in_review(&e, &both).await;
    let err = refused(&e, db, v.id, "peer", &both, Decision::Approve, None).await;
    assert_eq!(
        err,
        RuntimeError::RequesterMayNotDecide {
            approval: "peer".into(),
            actor: "ann".into()
        }
    );
    assert_eq!(err.code(), "requester_may_not_decide");
    // Someone else with the same roles may.
    let other = Actor::new("bea", &["author", "reviewer"]);
    let v = decide(&e, &v, "peer", &other, Decision::Approve).await;
    assert_eq!(v.state, "review");
}

async fn an_approver_needs_an_approver_role(db: &TestDb) {
    let e = deployed(db).await;
    let v = in_review(&e, &author()).await;
    let outsider = Actor::new("oscar", &["security", "finance"]);
    let err = refused(&e, db, v.id, "peer", &outsider, Decision::Reject, None).await;
    match &err {
        RuntimeError::NotAnApprover { approvers, .. } => assert_eq!(approvers, &["reviewer"]),
        other => panic!("expected not an approver, got {other}"),
    }
    assert!(err.to_string().contains("`reviewer`"), "{err}");
}

async fn the_same_person_cannot_decide_twice(db: &TestDb) {
    let e = deployed(db).await;
    let v = in_review(&e, &author()).await;
    let v = decide(&e, &v, "peer", &reviewer("rita"), Decision::Approve).await;
    for d in [Decision::Approve, Decision::Reject] {
        let err = refused(&e, db, v.id, "peer", &reviewer("rita"), d, None).await;
        assert!(
            matches!(&err, RuntimeError::AlreadyDecided { actor, seq: 3, .. } if actor == "rita"),
            "{err}"
        );
    }
}

async fn all_needs_each_approver_role(db: &TestDb) {
    let e = deployed(db).await;
    let v = in_review(&e, &author()).await;
    let v = decide(&e, &v, "peer", &reviewer("rita"), Decision::Approve).await;
    let v = decide(&e, &v, "peer", &reviewer("rolf"), Decision::Approve).await;
    assert_eq!(v.state, "board");

    // `distinct from author`: a security officer who is also an author.
    let conflicted = Actor::new("sid", &["security", "author"]);
    let err = refused(
        &e,
        db,
        v.id,
        "board_ok",
        &conflicted,
        Decision::Approve,
        None,
    )
    .await;
    assert_eq!(
        err,
        RuntimeError::ExcludedRole {
            approval: "board_ok".into(),
            actor: "sid".into(),
            role: "author".into()
        }
    );

    let v = decide(
        &e,
        &v,
        "board_ok",
        &Actor::new("sue", &["security"]),
        Decision::Approve,
    )
    .await;
    assert_eq!(v.state, "board", "finance has not approved yet");
    let v = decide(
        &e,
        &v,
        "board_ok",
        &Actor::new("fin", &["finance"]),
        Decision::Approve,
    )
    .await;
    assert_eq!(v.state, "scheduled");
    assert!(v.approvals.is_empty());
    verify_clean(&e).await;
}

async fn other_refusals_change_nothing(db: &TestDb) {
    let e = deployed(db).await;
    let v = in_review(&e, &author()).await;
    let rita = reviewer("rita");

    let err = refused(&e, db, 9999, "peer", &rita, Decision::Approve, None).await;
    assert_eq!(err, RuntimeError::UnknownInstance { id: 9999 });

    let err = refused(&e, db, v.id, "pear", &rita, Decision::Approve, None).await;
    match &err {
        RuntimeError::UnknownApproval { known, .. } => assert_eq!(known, &["peer", "board_ok"]),
        other => panic!("expected unknown approval, got {other}"),
    }

    let err = refused(
        &e,
        db,
        v.id,
        "board_ok",
        &Actor::new("sue", &["security"]),
        Decision::Approve,
        None,
    )
    .await;
    assert_eq!(
        err,
        RuntimeError::ApprovalNotOpen {
            approval: "board_ok".into(),
            on: "board".into(),
            state: "review".into()
        }
    );

    let err = refused(&e, db, v.id, "peer", &rita, Decision::Approve, Some(1)).await;
    assert_eq!(
        err,
        RuntimeError::Conflict {
            id: v.id,
            expected: 1,
            actual: Some(2)
        }
    );
}

async fn audit_verify_is_clean_after_decisions(db: &TestDb) {
    let e = deployed(db).await;
    // Approved all the way, rejected at the board, rejected and resubmitted.
    let a = in_review(&e, &author()).await;
    let a = decide(&e, &a, "peer", &reviewer("rita"), Decision::Approve).await;
    let a = decide(&e, &a, "peer", &reviewer("rolf"), Decision::Approve).await;
    let a = decide(
        &e,
        &a,
        "board_ok",
        &Actor::new("fin", &["finance"]),
        Decision::Reject,
    )
    .await;
    assert_eq!(a.state, "declined");
    let b = in_review(&e, &author()).await;
    let b = decide(&e, &b, "peer", &reviewer("rita"), Decision::Reject).await;
    e.fire(b.id, "resubmit", &author(), &json!({}), Some(b.revision))
        .await
        .expect("resubmit");
    let report = e.verify().await.expect("verify");
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.instances, 2);
    assert_eq!(report.events, 7 + 5);

    // A forged outcome is caught: rewrite the last event's target state.
    db.drop_append_only_triggers().await;
    db.exec(&[&format!(
        "UPDATE events SET to_state = 'scheduled' WHERE instance_id = {} AND kind = 'rejected'",
        a.id
    )])
    .await;
    let report = e.verify().await.expect("verify");
    assert!(!report.ok);
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].instance, a.id);
}

async fn re_entering_the_state_opens_a_fresh_round(db: &TestDb) {
    let e = deployed(db).await;
    let v = in_review(&e, &author()).await;
    let v = decide(&e, &v, "peer", &reviewer("rita"), Decision::Approve).await;
    let v = decide(&e, &v, "peer", &reviewer("rolf"), Decision::Reject).await;
    assert_eq!(v.state, "revising");
    let v = e
        .fire(v.id, "resubmit", &author(), &json!({}), Some(v.revision))
        .await
        .expect("resubmit");
    assert_eq!(v.state, "review");
    assert_eq!(v.approvals[0].decisions, vec![], "a fresh round");
    assert_eq!(v.approvals[0].opened_at, 6);

    // rita's earlier approval does not count, and she may decide again.
    let v = decide(&e, &v, "peer", &reviewer("rita"), Decision::Approve).await;
    assert_eq!(v.state, "review", "one approval in this round");
    let v = decide(&e, &v, "peer", &reviewer("rolf"), Decision::Approve).await;
    assert_eq!(v.state, "board");
    verify_clean(&e).await;
    let _: Value = serde_json::to_value(&v).expect("json");
}
