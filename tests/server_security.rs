//! What the server tells a caller it should not, and what a caller can do
//! to the server: refusals never reveal an instance the caller may not read
//! (the same answer as for one that does not exist), reads follow the roles
//! of the version an instance runs on, NUL characters are refused rather
//! than failing the database, `/metrics` cannot be grown by odd requests,
//! and a 413 leaves a keep-alive connection usable (or says it closes).
//! Over real TCP, on SQLite and PostgreSQL where a database is involved.

mod runtime_support;
mod server_support;

use std::io::{Read, Write};
use std::net::TcpStream;

use reqwest::Method;
use runtime_support::{program, TestDb, APPROVALS, CLOCKS, TICKET};
use serde_json::{json, Value};
use server_support::{snapshot, who, Answer, TestServer};

on_both_backends!(
    unreadable_instances_answer_as_unknown,
    reads_follow_the_version_the_instance_runs_on,
    nul_characters_are_refused_never_500,
);

/// The answer with the instance id replaced by `ID`: what a caller learns.
fn shape(a: &Answer, id: i64) -> (u16, String) {
    (
        a.status,
        a.text
            .replace(&format!("instance {id}"), "instance ID")
            .replace(&format!("with id {id}"), "with id ID")
            .replace(&format!("\"id\":{id}"), "\"id\":ID"),
    )
}

async fn unreadable_instances_answer_as_unknown(db: &TestDb) {
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
        assert_eq!(a.status, 201, "{}", a.text);
        a.json()["id"].as_i64().expect("id")
    };
    let missing = 999_999;
    // Everything an outsider could try on an instance; each must answer
    // exactly as it does for an instance that does not exist.
    let tries = |id: i64| -> Vec<(Method, String, Option<Value>)> {
        vec![
            (Method::GET, format!("/instances/{id}"), None),
            (Method::GET, format!("/instances/{id}/history"), None),
            (Method::GET, format!("/instances/{id}/clocks"), None),
            // Unknown transition (404 with the state and allowed ones before).
            (
                Method::POST,
                format!("/instances/{id}/transitions/bogus"),
                Some(json!({})),
            ),
            // A transition not allowed from the state (409 before).
            (
                Method::POST,
                format!("/instances/{id}/transitions/finish"),
                Some(json!({})),
            ),
            // A real transition with a stale revision (409 with the revision before).
            (
                Method::POST,
                format!("/instances/{id}/transitions/triage"),
                Some(json!({"patch": {"category": "hardware"}, "revision": 42})),
            ),
            // An unknown approval (404 naming the process before).
            (
                Method::POST,
                format!("/instances/{id}/approvals/bogus"),
                Some(json!({"decision": "approve"})),
            ),
            (
                Method::POST,
                format!("/instances/{id}/approvals/peer"),
                Some(json!({"decision": "approve"})),
            ),
        ]
    };
    for (caller, id) in [
        ("outsider", ticket),
        ("outsider", proposal),
        ("agent", ticket),
    ] {
        let before = snapshot(db).await;
        for ((method, path, body), (_, missing_path, _)) in
            tries(id).into_iter().zip(tries(missing))
        {
            let body = body.map(|b| ("application/json", serde_json::to_vec(&b).expect("json")));
            let there = s
                .request(method.clone(), &path, who(caller), body.clone())
                .await;
            let absent = s
                .request(method.clone(), &missing_path, who(caller), body)
                .await;
            assert_eq!(
                (there.status, there.code()),
                (404, "unknown_instance".to_string()),
                "{method} {path} as {caller}: {}",
                there.text
            );
            assert_eq!(
                shape(&there, id),
                shape(&absent, missing),
                "{method} {path} as {caller} tells the instance exists"
            );
        }
        assert_eq!(snapshot(db).await, before, "refusals changed the database");
    }
    // An unknown process lists only the deployed processes the caller reads.
    for (caller, path) in [
        ("outsider", "/processes/nonesuch"),
        ("desk", "/processes/nonesuch"),
    ] {
        let a = s.get(path, who(caller)).await;
        assert_eq!((a.status, a.code()), (404, "not_deployed".into()));
        let expected = if caller == "desk" {
            json!(["memo", "ticket"])
        } else {
            json!([])
        };
        assert_eq!(
            a.json()["details"]["deployed"],
            expected,
            "{caller}: {}",
            a.text
        );
    }
    let a = s
        .post(
            "/instances",
            who("outsider"),
            &json!({"process": "nonesuch"}),
        )
        .await;
    assert_eq!((a.status, a.code()), (404, "not_deployed".into()));
    assert_eq!(a.json()["details"]["deployed"], json!([]), "{}", a.text);
    // A reader still gets the precise refusals.
    let a = s
        .post(
            &format!("/instances/{ticket}/transitions/bogus"),
            who("desk"),
            &json!({}),
        )
        .await;
    assert_eq!((a.status, a.code()), (404, "unknown_transition".into()));
    assert_eq!(a.json()["details"]["state"], "new", "{}", a.text);
    let a = s
        .post(
            &format!("/instances/{ticket}/transitions/finish"),
            who("resolver"),
            &json!({}),
        )
        .await;
    assert_eq!((a.status, a.code()), (409, "not_allowed_from_state".into()));
    let a = s
        .post(
            &format!("/instances/{proposal}/approvals/bogus"),
            who("reviewer1"),
            &json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((a.status, a.code()), (404, "unknown_approval".into()));
    // A reader who may not fire this transition learns why.
    let a = s
        .post(
            &format!("/instances/{ticket}/transitions/triage"),
            who("resolver"),
            &json!({"patch": {"category": "hardware"}}),
        )
        .await;
    assert_eq!((a.status, a.code()), (403, "role_missing".into()));
    s.stop().await;
}

async fn reads_follow_the_version_the_instance_runs_on(db: &TestDb) {
    let s = TestServer::start(db).await;
    let old = s.start_ticket().await;
    // Version 2 of `ticket` names the `security` role (its owner); the
    // instance started before stays on version 1, which does not.
    let v2 = TICKET.replacen("owner incident_manager", "owner security", 1);
    assert_ne!(v2, TICKET);
    let program = program(&[
        ("ticket.pdca", &v2),
        ("approvals.pdca", APPROVALS),
        ("clocks.pdca", CLOCKS),
    ]);
    s.state.engine().deploy(&program).await.expect("deploy v2");
    let new = s.start_ticket().await;
    let v = s.ok(&format!("/instances/{new}"), who("desk")).await;
    assert_eq!(v["version"], 2, "{v}");
    let v = s.ok(&format!("/instances/{old}"), who("desk")).await;
    assert_eq!(v["version"], 1, "{v}");

    for path in ["", "/history", "/clocks"] {
        // `security` reads the instance on version 2, not the one on version 1.
        let a = s
            .get(&format!("/instances/{new}{path}"), who("security"))
            .await;
        assert_eq!(a.status, 200, "{path}: {}", a.text);
        let a = s
            .get(&format!("/instances/{old}{path}"), who("security"))
            .await;
        assert_eq!(
            (a.status, a.code()),
            (404, "unknown_instance".into()),
            "{path}: {}",
            a.text
        );
        // `incident_manager` owns version 1 and still names version 2's `escalate`.
        let a = s
            .get(&format!("/instances/{old}{path}"), who("manager"))
            .await;
        assert_eq!(a.status, 200, "{path}: {}", a.text);
    }
    let listed = s.ok("/instances?process=ticket", who("security")).await;
    let ids: Vec<i64> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_i64())
        .collect();
    assert_eq!(ids, [new], "{listed}");
    // Writes hide the old instance the same way.
    let a = s
        .post(
            &format!("/instances/{old}/transitions/bogus"),
            who("security"),
            &json!({}),
        )
        .await;
    assert_eq!((a.status, a.code()), (404, "unknown_instance".into()));
    s.stop().await;
}

async fn nul_characters_are_refused_never_500(db: &TestDb) {
    let s = TestServer::start(db).await;
    let id = s.start_ticket().await;
    let before = snapshot(db).await;
    let gets = [
        ("/instances?state=a%00b", 200),
        ("/instances?process=inc%00ident", 200),
        ("/processes/a%00b", 404),
        ("/processes/a%00b/diagram", 404),
        ("/breaches?after=1:a%00b", 400),
        ("/coverage?standard=iso%00", 404),
    ];
    for (path, status) in gets {
        let a = s.get(path, who("desk")).await;
        assert_eq!(a.status, status, "{path}: {}", a.text);
        if status == 200 {
            assert_eq!(a.json()["items"], json!([]), "{path}: {}", a.text);
        } else {
            a.code();
        }
    }
    let posts = [
        (
            "/instances".to_string(),
            json!({"process": "tic\u{0}ket", "record": {}}),
            404,
            "not_deployed",
        ),
        (
            "/instances".to_string(),
            json!({"process": "ticket", "record": {"summary": "a\u{0}b", "reported_by": "dan",
                   "impact": "low", "urgency": "low"}}),
            422,
            "invalid_fields",
        ),
        (
            format!("/instances/{id}/transitions/triage"),
            json!({"patch": {"category": "hardware", "hold_reason": "x\u{0}"}}),
            422,
            "invalid_fields",
        ),
        (
            format!("/instances/{id}/transitions/triage"),
            json!({"patch": {"category": "hardware", "notes": "log \u{0} entry"}}),
            422,
            "invalid_fields",
        ),
        (
            format!("/instances/{id}/transitions/tri\u{0}age"),
            json!({}),
            404,
            "unknown_transition",
        ),
    ];
    for (path, body, status, code) in posts {
        let path = path.replace('\u{0}', "%00");
        let a = s.post(&path, who("desk"), &body).await;
        assert_eq!(
            (a.status, a.code()),
            (status, code.to_string()),
            "{path}: {}",
            a.text
        );
        if code == "invalid_fields" {
            let problem = &a.json()["details"]["problems"][0];
            assert_eq!(problem["kind"], "invalid_text", "{}", a.text);
            assert!(
                ["summary", "hold_reason", "notes"]
                    .contains(&problem["field"].as_str().unwrap_or("")),
                "{}",
                a.text
            );
        }
    }
    // A decision's comment is text too.
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
    let before_decision = snapshot(db).await;
    let a = s
        .post(
            &format!("/instances/{p}/approvals/peer"),
            who("reviewer1"),
            &json!({"decision": "approve", "comment": "fine\u{0}"}),
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (422, "invalid_fields".into()),
        "{}",
        a.text
    );
    assert_eq!(a.json()["details"]["problems"][0]["field"], "comment");
    assert_eq!(snapshot(db).await, before_decision);
    let _ = before;
    s.stop().await;
}

/// 500 requests with random methods and paths leave the number of
/// series where a first round of the same kinds put it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_series_do_not_grow_with_odd_requests() {
    let db = TestDb::sqlite();
    let s = TestServer::start(&db).await;
    let series = |text: &str| {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .count()
    };
    let client = reqwest::Client::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut round = |n: usize| {
        (0..n)
            .map(|_| {
                let r = next();
                let method = format!("X{:X}", r % 1_000_000);
                let path = format!("/p{}/{}", r % 9973, r % 7);
                (method, path)
            })
            .collect::<Vec<_>>()
    };
    let send = |method: String, path: String| {
        let client = client.clone();
        let url = format!("{}{path}", s.base);
        async move {
            let m = Method::from_bytes(method.as_bytes()).expect("method");
            client
                .request(m, url)
                .send()
                .await
                .expect("request")
                .status()
        }
    };
    // Every kind once: odd methods on known and unknown paths, known
    // methods on unknown paths.
    for (m, p) in [
        ("FOO1", "/instances"),
        ("FOO2", "/nowhere"),
        ("GET", "/nowhere/1"),
        ("POST", "/nowhere/2"),
        ("FOO3", "/metrics"),
    ] {
        send(m.into(), p.into()).await;
    }
    // The /metrics request counts itself once it has answered: read twice.
    s.get("/metrics", server_support::Anonymous).await;
    let first = s.get("/metrics", server_support::Anonymous).await.text;
    for (m, p) in round(500) {
        let status = send(m, p).await;
        assert!(status.is_client_error(), "{status}");
    }
    let after = s.get("/metrics", server_support::Anonymous).await.text;
    assert_eq!(series(&after), series(&first), "the series grew:\n{after}");
    assert!(after.contains("method=\"other\""), "{after}");
    assert!(
        !after.contains("method=\"X"),
        "a client's method became a label:\n{after}"
    );
    s.stop().await;
}

/// Reads one HTTP/1.1 answer (headers and a `Content-Length` body).
fn read_answer(stream: &mut TcpStream) -> (u16, String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("read");
        assert!(
            n == 1,
            "the connection closed before an answer: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_lowercase();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).expect("body");
    (status, head, body)
}

/// A 413 for a body the server read to its end keeps the connection; one
/// it stopped reading says `Connection: close`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_too_large_leaves_keep_alive_usable() {
    let db = TestDb::sqlite();
    let s = TestServer::start(&db).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let token = server_support::token_of("desk");
    let check = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(&addr).expect("connect");
        let big = vec![b' '; pdca::server::BODY_LIMIT + 10];
        let head = format!(
            "POST /instances HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            big.len()
        );
        stream.write_all(head.as_bytes()).expect("write");
        stream.write_all(&big).expect("write body");
        let (status, head, _) = read_answer(&mut stream);
        assert_eq!(status, 413, "{head}");
        // The same connection serves the next request.
        let next = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        stream.write_all(next.as_bytes()).expect("write");
        let (status, head, body) = read_answer(&mut stream);
        assert_eq!(status, 200, "{head}");
        assert!(String::from_utf8_lossy(&body).contains("ok"));

        // Beyond what the server drains: it answers and announces the close.
        let mut stream = TcpStream::connect(&addr).expect("connect");
        let huge = 17 * 1024 * 1024;
        let head = format!(
            "POST /instances HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {huge}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).expect("write");
        let mut writer = stream.try_clone().expect("clone");
        let sender = std::thread::spawn(move || {
            let chunk = vec![b' '; 64 * 1024];
            let mut sent = 0;
            while sent < huge {
                if writer.write_all(&chunk).is_err() {
                    break;
                }
                sent += chunk.len();
            }
        });
        let (status, head, _) = read_answer(&mut stream);
        assert_eq!(status, 413, "{head}");
        assert!(head.contains("connection: close"), "{head}");
        let _ = sender.join();
    });
    check.await.expect("raw client");
    s.stop().await;
}
