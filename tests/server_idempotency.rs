//! `Idempotency-Key` on every POST, over real TCP on SQLite and
//! PostgreSQL: a repeated key with the same request replays the first
//! answer without writing; a different request with the key is refused;
//! keys are the caller's own; two identical requests at once write once;
//! the worker forgets keys past the retention. (Across a restart of the
//! real binary: `server_process.rs`.)

mod runtime_support;
mod server_support;

use std::time::Duration;

use reqwest::Method;
use runtime_support::TestDb;
use serde_json::{json, Value};
use server_support::{snapshot, token_of, who, Answer, TestServer};

on_both_backends!(
    a_repeated_key_replays_the_first_answer,
    keys_belong_to_their_caller,
    identical_requests_at_once_write_once,
    the_worker_forgets_keys_past_the_retention,
    invalid_keys_are_refused,
);

async fn post_with_key(
    s: &TestServer,
    path: &str,
    caller: &str,
    key: &str,
    body: &Value,
) -> Answer {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", s.base))
        .bearer_auth(token_of(caller))
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    Answer {
        status,
        headers,
        text,
    }
}

fn replayed(a: &Answer) -> bool {
    a.headers
        .get("idempotency-replayed")
        .is_some_and(|v| v == "true")
}

fn ticket_body(summary: &str) -> Value {
    json!({"process": "ticket", "record": {"summary": summary, "reported_by": "dan",
           "impact": "low", "urgency": "low"}})
}

async fn a_repeated_key_replays_the_first_answer(db: &TestDb) {
    let s = TestServer::start(db).await;
    // Start.
    let first = post_with_key(&s, "/instances", "desk", "start-1", &ticket_body("Disk")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert!(!replayed(&first));
    let after_first = snapshot(db).await;
    let again = post_with_key(&s, "/instances", "desk", "start-1", &ticket_body("Disk")).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert!(replayed(&again));
    assert_eq!(again.text, first.text);
    assert_eq!(again.headers.get("location"), first.headers.get("location"));
    assert_eq!(snapshot(db).await, after_first, "a replay wrote");
    // The same request spelt differently (keys in another order, spaces).
    let respelt = reqwest::Client::new()
        .post(format!("{}/instances", s.base))
        .bearer_auth(token_of("desk"))
        .header("idempotency-key", "start-1")
        .header("content-type", "application/json")
        .body(
            r#"{ "record": {"urgency": "low", "impact": "low", "reported_by": "dan",
                 "summary": "Disk"}, "process": "ticket" }"#,
        )
        .send()
        .await
        .expect("request");
    assert_eq!(respelt.status().as_u16(), 201);
    assert_eq!(respelt.text().await.expect("body"), first.text);
    // The same key with another body, or on another route, is refused.
    let other = post_with_key(&s, "/instances", "desk", "start-1", &ticket_body("Other")).await;
    assert_eq!(
        (other.status, other.code()),
        (422, "idempotency_key_reused".into()),
        "{}",
        other.text
    );
    assert_eq!(other.json()["details"]["key"], "start-1");
    let id = first.json()["id"].as_i64().expect("id");
    let elsewhere = post_with_key(
        &s,
        &format!("/instances/{id}/transitions/triage"),
        "desk",
        "start-1",
        &json!({"patch": {"category": "hardware"}}),
    )
    .await;
    assert_eq!(elsewhere.status, 422, "{}", elsewhere.text);
    assert_eq!(snapshot(db).await, after_first, "a refusal wrote");

    // Fire: a whole-number float revision is the same request as the integer.
    let fire = |revision: Value| json!({"patch": {"category": "hardware"}, "revision": revision});
    let path = format!("/instances/{id}/transitions/triage");
    let fired = post_with_key(&s, &path, "desk", "fire-1", &fire(json!(1))).await;
    assert_eq!(fired.status, 200, "{}", fired.text);
    assert_eq!(fired.json()["revision"], 2);
    let after_fire = snapshot(db).await;
    let again = post_with_key(&s, &path, "desk", "fire-1", &fire(json!(1.0))).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert!(replayed(&again));
    assert_eq!(again.text, fired.text);
    assert_eq!(snapshot(db).await, after_fire);
    // Without the key the retry is a new request (refused: stale revision).
    let a = s.post(&path, who("desk"), &fire(json!(1))).await;
    assert_eq!((a.status, a.code()), (409, "conflict".into()), "{}", a.text);

    // Decide.
    let p = s
        .post(
            "/instances",
            who("author"),
            &json!({"process": "proposal", "record": {"summary": "x", "plan": "y"}}),
        )
        .await
        .json()["id"]
        .as_i64()
        .expect("id");
    let sub = s
        .post(
            &format!("/instances/{p}/transitions/submit"),
            who("author"),
            &json!({}),
        )
        .await;
    assert_eq!(sub.status, 200, "{}", sub.text);
    let path = format!("/instances/{p}/approvals/peer");
    let body = json!({"decision": "approve", "comment": "fine"});
    let decided = post_with_key(&s, &path, "reviewer1", "decide-1", &body).await;
    assert_eq!(decided.status, 200, "{}", decided.text);
    let after_decision = snapshot(db).await;
    let again = post_with_key(&s, &path, "reviewer1", "decide-1", &body).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert!(replayed(&again));
    assert_eq!(again.text, decided.text);
    assert_eq!(snapshot(db).await, after_decision);
    // Without a key the same decision is refused: it was recorded once.
    let a = s.post(&path, who("reviewer1"), &body).await;
    assert_eq!(
        (a.status, a.code()),
        (409, "already_decided".into()),
        "{}",
        a.text
    );

    // A refused write leaves no key behind: the key is free for the
    // request that succeeds.
    let path = format!("/instances/{id}/transitions/finish");
    let refused = post_with_key(&s, &path, "resolver", "work-1", &json!({})).await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM idempotency_keys WHERE key = 'work-1'")
            .await,
        0
    );
    let path = format!("/instances/{id}/transitions/work");
    let worked = post_with_key(&s, &path, "resolver", "work-1", &json!({})).await;
    assert_eq!(worked.status, 200, "{}", worked.text);
    assert!(!replayed(&worked));
    s.stop().await;
}

async fn keys_belong_to_their_caller(db: &TestDb) {
    let s = TestServer::start(db).await;
    let body = json!({"process": "memo", "record": {"text": "t"}});
    let desk = post_with_key(&s, "/instances", "desk", "shared", &body).await;
    assert_eq!(desk.status, 201, "{}", desk.text);
    let resolver = post_with_key(&s, "/instances", "resolver", "shared", &body).await;
    assert_eq!(resolver.status, 201, "{}", resolver.text);
    assert!(!replayed(&resolver));
    assert_ne!(desk.json()["id"], resolver.json()["id"]);
    // Each replays its own.
    let again = post_with_key(&s, "/instances", "resolver", "shared", &body).await;
    assert_eq!(again.text, resolver.text);
    let again = post_with_key(&s, "/instances", "desk", "shared", &body).await;
    assert_eq!(again.text, desk.text);
    assert_eq!(db.count("SELECT COUNT(*) FROM instances").await, 2);
    s.stop().await;
}

async fn identical_requests_at_once_write_once(db: &TestDb) {
    let s = TestServer::start(db).await;
    let id = s.start_ticket().await;
    let before = snapshot(db).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let base = s.base.clone();
        tasks.push(tokio::spawn(async move {
            let resp = reqwest::Client::new()
                .post(format!("{base}/instances"))
                .bearer_auth(token_of("desk"))
                .header("idempotency-key", "burst")
                .json(&ticket_body("Burst"))
                .send()
                .await
                .expect("request");
            (resp.status().as_u16(), resp.text().await.expect("body"))
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("task"));
    }
    for (status, text) in &answers {
        assert_eq!(*status, 201, "{text}");
        assert_eq!(text, &answers[0].1);
    }
    let after = snapshot(db).await;
    assert_eq!(after["instances"], before["instances"] + 1, "{answers:?}");
    // Fires too: one transition for eight identical requests.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let url = format!("{}/instances/{id}/transitions/triage", s.base);
        tasks.push(tokio::spawn(async move {
            let resp = reqwest::Client::new()
                .post(url)
                .bearer_auth(token_of("desk"))
                .header("idempotency-key", "burst-fire")
                .json(&json!({"patch": {"category": "hardware"}}))
                .send()
                .await
                .expect("request");
            (resp.status().as_u16(), resp.text().await.expect("body"))
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("task"));
    }
    for (status, text) in &answers {
        assert_eq!(*status, 200, "{text}");
        assert_eq!(text, &answers[0].1);
    }
    assert_eq!(snapshot(db).await["events"], after["events"] + 1);
    s.stop().await;
}

async fn the_worker_forgets_keys_past_the_retention(db: &TestDb) {
    let s = TestServer::start(db).await;
    let first = post_with_key(&s, "/instances", "desk", "old", &ticket_body("Old")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    pdca::server::worker::tick_once(&s.state).await;
    assert_eq!(db.count("SELECT COUNT(*) FROM idempotency_keys").await, 1);
    s.state.set_idempotency_retention(Duration::ZERO);
    pdca::server::worker::tick_once(&s.state).await;
    assert_eq!(db.count("SELECT COUNT(*) FROM idempotency_keys").await, 0);
    // The key is free again: the same request writes anew.
    let again = post_with_key(&s, "/instances", "desk", "old", &ticket_body("Old")).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert!(!replayed(&again));
    assert_ne!(again.json()["id"], first.json()["id"]);
    // An expired key the worker has not deleted yet counts as new as well.
    let third = post_with_key(&s, "/instances", "desk", "old", &ticket_body("Other")).await;
    assert_eq!(third.status, 201, "{}", third.text);
    s.stop().await;
}

async fn invalid_keys_are_refused(db: &TestDb) {
    let s = TestServer::start(db).await;
    let before = snapshot(db).await;
    let long = "k".repeat(256);
    for key in ["has space", long.as_str(), ""] {
        let a = post_with_key(&s, "/instances", "desk", key, &ticket_body("x")).await;
        assert_eq!(
            (a.status, a.code()),
            (400, "invalid_header".into()),
            "{key:?}: {}",
            a.text
        );
    }
    let a = s
        .request(
            Method::POST,
            "/instances",
            who("desk"),
            Some((
                "application/json",
                serde_json::to_vec(&ticket_body("x")).expect("json"),
            )),
        )
        .await;
    assert_eq!(a.status, 201, "no key is fine: {}", a.text);
    assert_eq!(snapshot(db).await["instances"], before["instances"] + 1);
    s.stop().await;
}
