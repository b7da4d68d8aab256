//! The HTTP API over real TCP, on SQLite and on PostgreSQL: every route's
//! happy path, the authorization matrix (each protected route without a
//! token, with an unknown one, with the wrong roles and with the right
//! ones), and bad input that must be refused with the error shape and
//! change nothing.

mod runtime_support;
mod server_support;

use reqwest::Method;
use serde_json::{json, Value};
use server_support::{snapshot, who, Anonymous, BadToken, TestServer};

use runtime_support::TestDb;

on_both_backends!(
    processes_routes,
    instance_lifecycle_and_paging,
    approvals_and_segregation_of_duties,
    clocks_breaches_and_metrics,
    operations_routes,
    authorization_matrix,
    bad_input_changes_nothing,
    database_faults_are_500_without_internals,
);

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

async fn processes_routes(db: &TestDb) {
    let s = TestServer::start(db).await;
    let list = s.ok("/processes", who("desk")).await;
    let names: Vec<&str> = list["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    // The desk is named by `ticket` and `memo`, not by `proposal` or `case`.
    assert_eq!(names, ["ticket", "memo"], "{list}");

    let def = s.ok("/processes/ticket", who("desk")).await;
    assert_eq!(def["name"], "ticket");
    assert!(def["transitions"].as_array().is_some_and(|t| t.len() == 9));

    let d = s.get("/processes/ticket/diagram", who("desk")).await;
    assert_eq!(d.status, 200, "{}", d.text);
    let ct = d.headers["content-type"].to_str().unwrap_or_default();
    assert!(ct.starts_with("text/plain"), "{ct}");
    assert!(d.text.starts_with("stateDiagram-v2\n"), "{}", d.text);
    assert!(d.text.contains("[*] --> new"), "{}", d.text);
    assert!(
        d.text
            .contains("new --> triaged : triage (by service_desk)"),
        "{}",
        d.text
    );
    assert!(d.text.contains("new --> expired : expire (after 3d)"));
    assert!(d.text.contains("done --> [*]"));

    let a = s.get("/processes/nonesuch", who("desk")).await;
    assert_eq!((a.status, a.code()), (404, "not_deployed".into()));
    s.stop().await;
}

async fn instance_lifecycle_and_paging(db: &TestDb) {
    let s = TestServer::start(db).await;
    let started = s
        .post(
            "/instances",
            who("desk"),
            &json!({"process": "ticket", "record": {"summary": "Disk full", "reported_by": "dan",
                    "impact": "low", "urgency": "medium"}}),
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.text);
    let v = started.json();
    let id = v["id"].as_i64().expect("id");
    assert_eq!(
        started.headers["location"].to_str().unwrap_or_default(),
        format!("/instances/{id}")
    );
    assert_eq!(
        (v["state"].as_str(), v["revision"].as_i64()),
        (Some("new"), Some(1))
    );
    assert_eq!(v["record"]["summary"], "Disk full");

    let shown = s.ok(&format!("/instances/{id}"), who("desk")).await;
    assert_eq!(shown["next"], json!(["triage"]));

    // Fire with the current revision, then again with the stale one.
    let fired = s
        .post(
            &format!("/instances/{id}/transitions/triage"),
            who("desk"),
            &json!({"patch": {"category": "software"}, "revision": 1}),
        )
        .await;
    assert_eq!(fired.status, 200, "{}", fired.text);
    let fired = fired.json();
    assert_eq!(
        (fired["state"].as_str(), fired["revision"].as_i64()),
        (Some("triaged"), Some(2))
    );
    assert_eq!(fired["record"]["category"], "software");
    let stale = s
        .post(
            &format!("/instances/{id}/transitions/work"),
            who("resolver"),
            &json!({"revision": 1}),
        )
        .await;
    assert_eq!((stale.status, stale.code()), (409, "conflict".into()));
    assert_eq!(stale.json()["details"]["actual"], 2);
    let worked = s
        .post(
            &format!("/instances/{id}/transitions/work"),
            who("resolver"),
            &json!({}),
        )
        .await;
    assert_eq!(worked.status, 200, "{}", worked.text);

    let history = s
        .ok(&format!("/instances/{id}/history"), who("resolver"))
        .await;
    let events = history["events"].as_array().expect("events");
    let kinds: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default(),
                e["transition"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("start", None),
            ("fire", Some("triage")),
            ("fire", Some("work"))
        ]
    );
    assert_eq!(events[1]["actor"], "alice");
    assert_eq!(events[2]["actor"], "bob");

    // Paging: three more tickets, two per page.
    let mut ids = vec![id];
    for _ in 0..3 {
        ids.push(s.start_ticket().await);
    }
    let first = s.ok("/instances?process=ticket&limit=2", who("desk")).await;
    let page: Vec<i64> = items(&first)
        .iter()
        .filter_map(|i| i["id"].as_i64())
        .collect();
    assert_eq!(page, ids[..2]);
    assert_eq!(first["next"], json!(ids[1]));
    let second = s
        .ok(
            &format!("/instances?process=ticket&limit=2&after={}", ids[1]),
            who("desk"),
        )
        .await;
    let page: Vec<i64> = items(&second)
        .iter()
        .filter_map(|i| i["id"].as_i64())
        .collect();
    assert_eq!(page, ids[2..]);
    let third = s
        .ok(
            &format!("/instances?process=ticket&limit=2&after={}", ids[3]),
            who("desk"),
        )
        .await;
    assert!(items(&third).is_empty());
    assert_eq!(third["next"], Value::Null);

    let working = s.ok("/instances?state=working", who("desk")).await;
    let page: Vec<i64> = items(&working)
        .iter()
        .filter_map(|i| i["id"].as_i64())
        .collect();
    assert_eq!(page, [id]);
    assert_eq!(working["next"], Value::Null);
    s.stop().await;
}

async fn approvals_and_segregation_of_duties(db: &TestDb) {
    let s = TestServer::start(db).await;
    let a = s
        .post(
            "/instances",
            who("author_reviewer"),
            &json!({"process": "proposal", "record": {"summary": "New VPN", "plan": "Friday"}}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let id = a.json()["id"].as_i64().expect("id");
    let submit = s
        .post(
            &format!("/instances/{id}/transitions/submit"),
            who("author_reviewer"),
            &json!({}),
        )
        .await;
    assert_eq!(submit.status, 200, "{}", submit.text);
    let peer = format!("/instances/{id}/approvals/peer");

    // The requester holds `reviewer` but may not decide (distinct from requester).
    let own = s
        .post(
            &peer,
            who("author_reviewer"),
            &json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(
        (own.status, own.code()),
        (403, "requester_may_not_decide".into())
    );
    // Not an approver at all.
    let other = s
        .post(&peer, who("security"), &json!({"decision": "approve"}))
        .await;
    assert_eq!(
        (other.status, other.code()),
        (403, "not_an_approver".into())
    );

    let one = s
        .post(
            &peer,
            who("reviewer1"),
            &json!({"decision": "approve", "comment": "fine"}),
        )
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json()["state"], "review");
    let again = s
        .post(&peer, who("reviewer1"), &json!({"decision": "approve"}))
        .await;
    assert_eq!(
        (again.status, again.code()),
        (409, "already_decided".into())
    );
    let two = s
        .post(&peer, who("reviewer2"), &json!({"decision": "approve"}))
        .await;
    assert_eq!(two.status, 200, "{}", two.text);
    assert_eq!(two.json()["state"], "board");

    // The board: `distinct from author` excludes a holder of `author`.
    let board = format!("/instances/{id}/approvals/board_ok");
    let excluded = s
        .post(&board, who("author"), &json!({"decision": "approve"}))
        .await;
    assert_eq!(excluded.status, 403, "{}", excluded.text);
    let sec = s
        .post(&board, who("security"), &json!({"decision": "approve"}))
        .await;
    assert_eq!(sec.status, 200, "{}", sec.text);
    let fin = s
        .post(
            &board,
            who("finance"),
            &json!({"decision": "reject", "comment": "no budget"}),
        )
        .await;
    assert_eq!(fin.status, 200, "{}", fin.text);
    assert_eq!(fin.json()["state"], "declined");
    let closed = s
        .post(&board, who("finance"), &json!({"decision": "approve"}))
        .await;
    assert_eq!(
        (closed.status, closed.code()),
        (409, "approval_not_open".into())
    );
    let unknown = s
        .post(
            &format!("/instances/{id}/approvals/nonesuch"),
            who("finance"),
            &json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "unknown_approval".into())
    );
    s.stop().await;
}

async fn clocks_breaches_and_metrics(db: &TestDb) {
    let s = TestServer::start(db).await;
    let a = s
        .post(
            "/instances",
            who("agent"),
            &json!({"process": "case", "record": {"summary": "Down", "priority": "P1"}}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let id = a.json()["id"].as_i64().expect("id");
    let clocks = s.ok(&format!("/instances/{id}/clocks"), who("agent")).await;
    let list = clocks["clocks"].as_array().expect("clocks");
    assert_eq!(list.len(), 1, "{clocks}");
    assert_eq!(
        (list[0]["sla"].as_str(), list[0]["status"].as_str()),
        (Some("resolution"), Some("running"))
    );
    assert_eq!(list[0]["target_minutes"], 240);

    let none = s.ok("/breaches", who("agent")).await;
    assert!(items(&none).is_empty(), "{none}");
    // Make the clock due, and let the worker's tick find it.
    db.exec(&["UPDATE clocks SET segment_started_at = '2000-01-03T06:00:00.000000Z', wall_us = 0, business_us = 0, due_at = '2000-01-03T10:00:00.000000Z'"])
        .await;
    pdca::server::worker::tick_once(&s.state).await;
    let found = s.ok("/breaches", who("agent")).await;
    let b = items(&found);
    assert_eq!(b.len(), 1, "{found}");
    assert_eq!(
        (b[0]["instance"].as_i64(), b[0]["sla"].as_str()),
        (Some(id), Some("resolution"))
    );
    assert_eq!(b[0]["process"], "case");
    assert_eq!(b[0]["breached"], true);
    // The desk holds no role of `case`: the breach is not shown to it.
    let hidden = s.ok("/breaches", who("desk")).await;
    assert!(items(&hidden).is_empty(), "{hidden}");
    let paged = s
        .ok(
            &format!("/breaches?limit=1&after={id}:resolution"),
            who("agent"),
        )
        .await;
    assert!(items(&paged).is_empty(), "{paged}");

    let m = s.get("/metrics", Anonymous).await;
    assert_eq!(m.status, 200);
    assert!(m.text.contains("pdca_sla_breaches_total 1"), "{}", m.text);
    assert!(m.text.contains("pdca_worker_ticks_total 1"), "{}", m.text);
    assert!(m.text.contains("pdca_worker_lag_seconds "), "{}", m.text);
    assert!(
        m.text.contains(
            "pdca_http_requests_total{method=\"GET\",route=\"/instances/{id}/clocks\",status=\"200\"} 1"
        ),
        "{}",
        m.text
    );
    assert!(m.text.contains("pdca_http_request_duration_seconds_bucket"));
    let fired = s
        .post(
            &format!("/instances/{id}/transitions/finish"),
            who("agent"),
            &json!({}),
        )
        .await;
    assert_eq!(fired.status, 200, "{}", fired.text);
    let m = s.get("/metrics", Anonymous).await;
    assert!(
        m.text.contains("pdca_transitions_total{via=\"api\"} 1"),
        "{}",
        m.text
    );
    s.stop().await;
}

async fn operations_routes(db: &TestDb) {
    let s = TestServer::start(db).await;
    assert_eq!(s.ok("/healthz", Anonymous).await["status"], "ok");
    let ready = s.ok("/readyz", Anonymous).await;
    assert_eq!(ready["status"], "ready");
    let doc = s.ok("/openapi.json", Anonymous).await;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    let coverage = s.ok("/coverage", who("desk")).await;
    assert_eq!(coverage["standard"], "iso20000-1:2018", "{coverage}");
    assert!(coverage["summary"]["percent"].is_number(), "{coverage}");
    let unknown = s.get("/coverage?standard=iso9001", who("desk")).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "unknown_standard".into())
    );
    s.stop().await;
}

/// One protected route: how to call it, who may, who may not.
struct Case {
    method: Method,
    path: String,
    body: Option<Value>,
    wrong: &'static str,
    /// What the wrong caller gets: a status, or 200 with nothing of
    /// what it may not read.
    wrong_status: u16,
    right: &'static str,
    right_status: u16,
}

async fn authorization_matrix(db: &TestDb) {
    let s = TestServer::start(db).await;
    let ticket = s.start_ticket().await;
    let proposal = {
        let a = s
            .post(
                "/instances",
                who("author"),
                &json!({"process": "proposal", "record": {"summary": "x", "plan": "y"}}),
            )
            .await;
        let id = a.json()["id"].as_i64().expect("id");
        let sub = s
            .post(
                &format!("/instances/{id}/transitions/submit"),
                who("author"),
                &json!({}),
            )
            .await;
        assert_eq!(sub.status, 200, "{}", sub.text);
        id
    };
    // A breached clock, for the breach listing.
    let case = s
        .post(
            "/instances",
            who("agent"),
            &json!({"process": "case", "record": {"summary": "Down", "priority": "P2"}}),
        )
        .await;
    assert_eq!(case.status, 201, "{}", case.text);
    db.exec(&["UPDATE clocks SET segment_started_at = '2000-01-03T06:00:00.000000Z', wall_us = 0, business_us = 0, due_at = '2000-01-03T10:00:00.000000Z'"])
        .await;
    pdca::server::worker::tick_once(&s.state).await;
    let start_body = json!({"process": "ticket", "record": {"summary": "s", "reported_by": "r",
                            "impact": "low", "urgency": "low"}});
    let cases = vec![
        Case {
            method: Method::GET,
            path: "/processes/ticket".into(),
            body: None,
            wrong: "outsider",
            wrong_status: 403,
            right: "desk",
            right_status: 200,
        },
        Case {
            method: Method::GET,
            path: "/processes/ticket/diagram".into(),
            body: None,
            wrong: "outsider",
            wrong_status: 403,
            right: "desk",
            right_status: 200,
        },
        Case {
            method: Method::POST,
            path: "/instances".into(),
            body: Some(start_body.clone()),
            wrong: "resolver",
            wrong_status: 403,
            right: "desk",
            right_status: 201,
        },
        Case {
            method: Method::GET,
            path: "/instances?process=ticket".into(),
            body: None,
            wrong: "outsider",
            wrong_status: 200,
            right: "desk",
            right_status: 200,
        },
        Case {
            method: Method::GET,
            path: format!("/instances/{ticket}"),
            body: None,
            wrong: "outsider",
            wrong_status: 404,
            right: "desk",
            right_status: 200,
        },
        Case {
            method: Method::GET,
            path: format!("/instances/{ticket}/history"),
            body: None,
            wrong: "author",
            wrong_status: 404,
            right: "resolver",
            right_status: 200,
        },
        Case {
            method: Method::GET,
            path: format!("/instances/{ticket}/clocks"),
            body: None,
            wrong: "agent",
            wrong_status: 404,
            right: "manager",
            right_status: 200,
        },
        Case {
            method: Method::POST,
            path: format!("/instances/{ticket}/transitions/triage"),
            body: Some(json!({"patch": {"category": "hardware"}})),
            wrong: "resolver",
            wrong_status: 403,
            right: "desk",
            right_status: 200,
        },
        Case {
            method: Method::POST,
            path: format!("/instances/{proposal}/approvals/peer"),
            body: Some(json!({"decision": "approve"})),
            wrong: "finance",
            wrong_status: 403,
            right: "reviewer1",
            right_status: 200,
        },
        // Listings answer 200 to anyone authenticated, holding only what the caller may read.
        Case {
            method: Method::GET,
            path: "/processes".into(),
            body: None,
            wrong: "outsider",
            wrong_status: 200,
            right: "desk",
            right_status: 200,
        },
        Case {
            method: Method::GET,
            path: "/instances".into(),
            body: None,
            wrong: "outsider",
            wrong_status: 200,
            right: "desk",
            right_status: 200,
        },
        Case {
            method: Method::GET,
            path: "/breaches".into(),
            body: None,
            wrong: "outsider",
            wrong_status: 200,
            right: "agent",
            right_status: 200,
        },
        // The coverage report is about the definitions, not about instances.
        Case {
            method: Method::GET,
            path: "/coverage".into(),
            body: None,
            wrong: "outsider",
            wrong_status: 200,
            right: "desk",
            right_status: 200,
        },
    ];
    for c in &cases {
        let body = c
            .body
            .as_ref()
            .map(|b| ("application/json", serde_json::to_vec(b).expect("json")));
        let before = snapshot(db).await;
        for (caller, what) in [(Anonymous, "no token"), (BadToken, "unknown token")] {
            let a = s
                .request(c.method.clone(), &c.path, caller, body.clone())
                .await;
            assert_eq!(
                a.status, 401,
                "{} {} with {what}: {}",
                c.method, c.path, a.text
            );
            let challenge = a
                .headers
                .get("www-authenticate")
                .map(|h| h.to_str().unwrap_or_default());
            assert!(
                challenge.is_some_and(|h| h.starts_with("Bearer")),
                "{} {} with {what}: {challenge:?}",
                c.method,
                c.path
            );
            let code = a.code();
            assert!(
                code == "unauthenticated" || code == "invalid_token",
                "{code}"
            );
        }
        let wrong = s
            .request(c.method.clone(), &c.path, who(c.wrong), body.clone())
            .await;
        assert_eq!(
            wrong.status, c.wrong_status,
            "{} {} as {}: {}",
            c.method, c.path, c.wrong, wrong.text
        );
        if c.wrong_status == 403 {
            let code = wrong.code();
            assert!(
                ["role_missing", "not_an_approver"].contains(&code.as_str()),
                "{} {}: {code}",
                c.method,
                c.path
            );
        } else if c.wrong_status == 404 {
            // An instance the caller may not read is answered as one that
            // does not exist.
            assert_eq!(wrong.code(), "unknown_instance", "{} {}", c.method, c.path);
        } else if c.path != "/coverage" {
            // Nothing the outsider may not read.
            let v = wrong.json();
            let listed = v.get("items").or_else(|| v.get("processes"));
            assert_eq!(listed, Some(&json!([])), "{} {}: {v}", c.method, c.path);
        }
        assert_eq!(
            snapshot(db).await,
            before,
            "{} {}: refused calls changed the database",
            c.method,
            c.path
        );
        let right = s
            .request(c.method.clone(), &c.path, who(c.right), body.clone())
            .await;
        assert_eq!(
            right.status, c.right_status,
            "{} {} as {}: {}",
            c.method, c.path, c.right, right.text
        );
        if c.wrong_status == 200 && c.path != "/coverage" {
            let v = right.json();
            let listed = v.get("items").or_else(|| v.get("processes"));
            assert!(
                listed
                    .and_then(Value::as_array)
                    .is_some_and(|l| !l.is_empty()),
                "{} {} as {}: {v}",
                c.method,
                c.path,
                c.right
            );
        }
    }
    for public in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        for caller in [Anonymous, BadToken, who("outsider")] {
            let a = s.get(public, caller).await;
            assert_eq!(a.status, 200, "{public} with {caller:?}: {}", a.text);
        }
    }
    s.stop().await;
}

/// A request body: content type and bytes.
type Body = Option<(&'static str, Vec<u8>)>;

async fn bad_input_changes_nothing(db: &TestDb) {
    let s = TestServer::start(db).await;
    let id = s.start_ticket().await;
    let before = snapshot(db).await;
    let json = |text: &str| Some(("application/json", text.as_bytes().to_vec()));
    let fire = format!("/instances/{id}/transitions/triage");

    let checks: Vec<(Method, String, Body, u16, &str)> = vec![
        (Method::POST, "/instances".into(), json("{\"process\": "), 400, "malformed_json"),
        (Method::POST, "/instances".into(), json("{\"process\": 5}"), 422, "invalid_body"),
        (Method::POST, "/instances".into(), json("{\"process\": \"ticket\", \"record\": \"x\"}"), 422, "invalid_body"),
        (Method::POST, "/instances".into(), json("{\"process\": \"ticket\", \"extra\": 1}"), 422, "invalid_body"),
        (Method::POST, "/instances".into(), Some(("text/plain", b"{\"process\": \"ticket\"}".to_vec())), 415, "unsupported_media_type"),
        (Method::POST, "/instances".into(), None, 415, "unsupported_media_type"),
        (Method::POST, "/instances".into(),
         json(&format!("{{\"process\": \"ticket\", \"record\": {{\"summary\": \"{}\"}}}}", "x".repeat(2 * 1024 * 1024))),
         413, "payload_too_large"),
        (Method::POST, "/instances".into(),
         json("{\"process\": \"ticket\", \"record\": {\"summary\": \"s\", \"reported_by\": \"r\", \"impact\": 5, \"urgency\": \"low\"}}"),
         422, "invalid_fields"),
        (Method::POST, "/instances".into(),
         json("{\"process\": \"ticket\", \"record\": {\"summary\": \"s\", \"nonesuch\": 1}}"),
         422, "invalid_fields"),
        (Method::POST, "/instances".into(), json("{\"process\": \"ticket\", \"record\": {}}"), 422, "missing_fields"),
        (Method::POST, "/instances".into(), json("{\"process\": \"nonesuch\", \"record\": {}}"), 404, "not_deployed"),
        (Method::GET, "/instances/999999".into(), None, 404, "unknown_instance"),
        (Method::GET, "/instances/999999/history".into(), None, 404, "unknown_instance"),
        (Method::GET, "/instances/999999/clocks".into(), None, 404, "unknown_instance"),
        (Method::GET, "/instances/abc".into(), None, 400, "invalid_path"),
        (Method::GET, "/instances?limit=0".into(), None, 400, "invalid_query"),
        (Method::GET, "/instances?limit=many".into(), None, 400, "invalid_query"),
        (Method::GET, "/instances?after=x".into(), None, 400, "invalid_query"),
        (Method::GET, "/breaches?after=x".into(), None, 400, "invalid_query"),
        (Method::POST, "/instances/999999/transitions/triage".into(), json("{}"), 404, "unknown_instance"),
        (Method::POST, "/instances/abc/transitions/triage".into(), json("{}"), 400, "invalid_path"),
        (Method::POST, format!("/instances/{id}/transitions/nonesuch"), json("{}"), 404, "unknown_transition"),
        (Method::POST, format!("/instances/{id}/transitions/finish"), json("{}"), 409, "not_allowed_from_state"),
        (Method::POST, format!("/instances/{id}/transitions/expire"), json("{}"), 403, "automatic_transition"),
        (Method::POST, fire.clone(), json("{}"), 422, "missing_fields"),
        (Method::POST, fire.clone(), json("{\"patch\": {\"category\": \"food\"}}"), 422, "invalid_fields"),
        (Method::POST, fire.clone(), json("{\"patch\": [1, 2]}"), 422, "invalid_body"),
        (Method::POST, fire.clone(), json("{\"patch\": {\"category\": \"hardware\"}, \"revision\": \"one\"}"), 422, "invalid_body"),
        (Method::POST, fire.clone(), json("{\"patch\": {\"category\": \"hardware\"}, \"revision\": 7}"), 409, "conflict"),
        (Method::POST, fire.clone(), json("[}"), 400, "malformed_json"),
        (Method::POST, format!("/instances/{id}/approvals/peer"), json("{\"decision\": \"maybe\"}"), 422, "invalid_body"),
        (Method::POST, format!("/instances/{id}/approvals/peer"), json("{\"decision\": \"approve\"}"), 404, "unknown_approval"),
        (Method::GET, "/nonesuch".into(), None, 404, "not_found"),
        (Method::DELETE, format!("/instances/{id}"), None, 405, "method_not_allowed"),
        (Method::PUT, "/instances".into(), json("{}"), 405, "method_not_allowed"),
    ];
    for (method, path, body, status, code) in checks {
        let a = s.request(method.clone(), &path, who("desk"), body).await;
        assert_eq!(
            (a.status, a.code().as_str()),
            (status, code),
            "{method} {path}: {}",
            a.text
        );
        assert!(
            a.headers["content-type"]
                .to_str()
                .unwrap_or_default()
                .starts_with("application/json"),
            "{method} {path}"
        );
    }
    assert_eq!(
        snapshot(db).await,
        before,
        "refused requests changed the database"
    );
    // A guard that is false: `work` needs a ticket that is not major.
    let triaged = s
        .post(
            &fire,
            who("desk"),
            &json!({"patch": {"category": "hardware", "major": true}}),
        )
        .await;
    assert_eq!(triaged.status, 200, "{}", triaged.text);
    let after_triage = snapshot(db).await;
    let guard = s
        .post(
            &format!("/instances/{id}/transitions/work"),
            who("resolver"),
            &json!({}),
        )
        .await;
    assert_eq!(
        (guard.status, guard.code()),
        (422, "guard_false".into()),
        "{}",
        guard.text
    );
    assert_eq!(snapshot(db).await, after_triage);
    let state = s.ok(&format!("/instances/{id}"), who("desk")).await;
    assert_eq!(
        (state["state"].as_str(), state["revision"].as_i64()),
        (Some("triaged"), Some(2))
    );
    assert_ne!(before, after_triage);
    s.stop().await;
}

async fn database_faults_are_500_without_internals(db: &TestDb) {
    let s = TestServer::start(db).await;
    let id = s.start_ticket().await;
    // Someone moves the event log away under the running server.
    db.exec(&["ALTER TABLE events RENAME TO events_moved"])
        .await;
    let instances = db.count("SELECT COUNT(*) FROM instances").await;
    let history = s
        .get(&format!("/instances/{id}/history"), who("desk"))
        .await;
    let start = s
        .post(
            "/instances",
            who("desk"),
            &json!({"process": "ticket", "record": {"summary": "s", "reported_by": "r",
                    "impact": "low", "urgency": "low"}}),
        )
        .await;
    for a in [&history, &start] {
        assert_eq!(
            (a.status, a.code()),
            (500, "internal_error".into()),
            "{}",
            a.text
        );
        let v = a.json();
        assert_eq!(v["details"], json!({}));
        let message = v["message"].as_str().unwrap_or_default();
        assert!(!message.contains("events"), "internals leaked: {message}");
    }
    // The failed start left nothing behind.
    assert_eq!(db.count("SELECT COUNT(*) FROM instances").await, instances);
    // The process is still up and the database still answers.
    assert_eq!(s.ok("/healthz", Anonymous).await["status"], "ok");
    assert_eq!(s.ok("/readyz", Anonymous).await["status"], "ready");
    s.stop().await;
}
