//! The OpenAPI document matches the router: it lists exactly the routes
//! the server answers, every documented operation answers (never the
//! router's own 404 or 405), and the operations it marks as needing a
//! bearer token are exactly those that answer 401 without one.

mod runtime_support;
mod server_support;

use std::collections::BTreeSet;

use reqwest::Method;
use runtime_support::TestDb;
use serde_json::{json, Value};
use server_support::{who, Anonymous, TestServer};

/// Every route the server serves (method, path pattern).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/processes"),
    ("get", "/processes/{name}"),
    ("get", "/processes/{name}/diagram"),
    ("post", "/instances"),
    ("get", "/instances"),
    ("get", "/instances/{id}"),
    ("get", "/instances/{id}/history"),
    ("post", "/instances/{id}/transitions/{name}"),
    ("post", "/instances/{id}/approvals/{approval}"),
    ("get", "/instances/{id}/clocks"),
    ("get", "/breaches"),
    ("get", "/coverage"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

const PUBLIC: &[&str] = &["/healthz", "/readyz", "/metrics", "/openapi.json"];

/// (method, path, needs a token) of every operation in the document.
fn operations(doc: &Value) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let secured = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            out.push((method.clone(), path.clone(), secured));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_every_route_and_every_listed_route_answers() {
    let db = TestDb::sqlite();
    let s = TestServer::start(&db).await;
    let doc = s.ok("/openapi.json", Anonymous).await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    assert_eq!(
        doc,
        serde_json::to_value(pdca::server::openapi_document()).expect("json"),
        "the served document is the one built from the routes"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());

    let ops = operations(&doc);
    let documented: BTreeSet<(String, String)> =
        ops.iter().map(|(m, p, _)| (m.clone(), p.clone())).collect();
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, served);

    let ticket = s.start_ticket().await;
    for (method, path, secured) in &ops {
        assert_eq!(
            *secured,
            !PUBLIC.contains(&path.as_str()),
            "{method} {path}: security in the document"
        );
        let concrete = path
            .replace("{id}", &ticket.to_string())
            .replace("/processes/{name}", "/processes/ticket")
            .replace("/transitions/{name}", "/transitions/triage")
            .replace("{approval}", "peer");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let body = (method == Method::POST).then(|| {
            (
                "application/json",
                serde_json::to_vec(&json!({"process": "ticket", "record": {}})).expect("json"),
            )
        });
        // Answers with a token: the route exists for this method.
        let a = s
            .request(method.clone(), &concrete, who("desk"), body.clone())
            .await;
        assert_ne!(a.status, 405, "{method} {concrete}: {}", a.text);
        if a.status == 404 {
            assert_ne!(a.code(), "not_found", "{method} {concrete}: {}", a.text);
        }
        // Without a token: 401 exactly where the document says a token is needed.
        let anon = s.request(method.clone(), &concrete, Anonymous, body).await;
        assert_eq!(
            anon.status == 401,
            *secured,
            "{method} {concrete} without a token: {}",
            anon.text
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_outside_the_document_are_404_in_the_error_shape() {
    let db = TestDb::sqlite();
    let s = TestServer::start(&db).await;
    for path in [
        "/",
        "/instance",
        "/instances/1/transitions",
        "/processes/ticket/diagram/x",
    ] {
        let a = s.get(path, who("desk")).await;
        assert_eq!(
            (a.status, a.code()),
            (404, "not_found".to_string()),
            "{path}"
        );
    }
    s.stop().await;
}

/// Validates an answer against the schema the document gives for its
/// route, method and status (which must be documented).
fn conforms(doc: &Value, method: &str, pattern: &str, a: &server_support::Answer) {
    let response = &doc["paths"][pattern][method]["responses"][a.status.to_string()];
    assert!(
        response.is_object(),
        "{method} {pattern}: status {} is not documented: {}",
        a.status,
        a.text
    );
    let Some(schema) = response["content"]["application/json"]["schema"].as_object() else {
        panic!("{method} {pattern} {}: no JSON schema", a.status);
    };
    let schema = with_components(doc, schema);
    let body = a.json();
    if let Err(e) = jsonschema::validate(&schema, &body) {
        panic!("{method} {pattern} {}: {e}\n{}", a.status, a.text);
    }
}

/// A response schema made standalone: its `#/components/...` references
/// resolve against the document's components.
fn with_components(doc: &Value, schema: &serde_json::Map<String, Value>) -> Value {
    let mut schema = Value::Object(schema.clone());
    schema["components"] = doc["components"].clone();
    schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    schema
}

#[test]
fn the_schema_check_rejects_what_does_not_match() {
    let doc = serde_json::to_value(pdca::server::openapi_document()).expect("json");
    let schema = doc["paths"]["/instances"]["post"]["responses"]["201"]["content"]
        ["application/json"]["schema"]
        .as_object()
        .expect("schema");
    let schema = with_components(&doc, schema);
    let good = json!({"id": 1, "process": "p", "version": 1, "definition_id": 1, "state": "s",
                      "revision": 1, "record": {}, "created_at": "t", "updated_at": "t",
                      "next": []});
    assert!(jsonschema::is_valid(&schema, &good));
    let mut missing = good.clone();
    missing.as_object_mut().map(|o| o.remove("revision"));
    assert!(!jsonschema::is_valid(&schema, &missing));
    let mut wrong = good.clone();
    wrong["id"] = json!("one");
    assert!(!jsonschema::is_valid(&schema, &wrong));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_match_the_documented_schemas() {
    let db = TestDb::sqlite();
    let s = TestServer::start(&db).await;
    let doc = s.ok("/openapi.json", Anonymous).await;
    let post = |path: &str, who, body: Value| {
        let path = path.to_string();
        let s = &s;
        async move { s.post(&path, who, &body).await }
    };

    let a = post(
        "/instances",
        who("author"),
        json!({"process": "proposal", "record": {"summary": "x", "plan": "y"}}),
    )
    .await;
    conforms(&doc, "post", "/instances", &a);
    let p = a.json()["id"].as_i64().expect("id");
    let a = post(
        &format!("/instances/{p}/transitions/submit"),
        who("author"),
        json!({}),
    )
    .await;
    conforms(&doc, "post", "/instances/{id}/transitions/{name}", &a);
    let a = post(
        &format!("/instances/{p}/approvals/peer"),
        who("reviewer1"),
        json!({"decision": "approve", "comment": "ok"}),
    )
    .await;
    // An open approval with one decision.
    assert!(
        a.json()["approvals"][0]["decisions"][0].is_object(),
        "{}",
        a.text
    );
    conforms(&doc, "post", "/instances/{id}/approvals/{approval}", &a);
    let a = post(
        "/instances",
        who("agent"),
        json!({"process": "case", "record": {"summary": "Down", "priority": "P1"}}),
    )
    .await;
    let c = a.json()["id"].as_i64().expect("id");
    assert!(a.json()["clocks"][0].is_object(), "{}", a.text);
    conforms(&doc, "post", "/instances", &a);
    db.exec(&["UPDATE clocks SET segment_started_at = '2000-01-03T06:00:00.000000Z', wall_us = 0, business_us = 0, due_at = '2000-01-03T10:00:00.000000Z'"])
        .await;
    pdca::server::worker::tick_once(&s.state).await;

    let gets: Vec<(&str, String, &str)> = vec![
        ("/processes", "/processes".into(), "desk"),
        ("/instances", "/instances?limit=1".into(), "author"),
        ("/instances/{id}", format!("/instances/{p}"), "author"),
        ("/instances/{id}", format!("/instances/{c}"), "agent"),
        (
            "/instances/{id}/history",
            format!("/instances/{p}/history"),
            "author",
        ),
        (
            "/instances/{id}/clocks",
            format!("/instances/{c}/clocks"),
            "agent",
        ),
        ("/breaches", "/breaches".into(), "agent"),
        ("/healthz", "/healthz".into(), "desk"),
        ("/readyz", "/readyz".into(), "desk"),
    ];
    for (pattern, path, caller) in gets {
        let a = s.get(&path, who(caller)).await;
        assert_eq!(a.status, 200, "{path}: {}", a.text);
        conforms(&doc, "get", pattern, &a);
    }
    let b = s.ok("/breaches", who("agent")).await;
    assert_eq!(b["items"].as_array().map(Vec::len), Some(1), "{b}");

    // Errors, in the documented shape and with a documented status.
    let errors: Vec<(&str, &str, String, server_support::Who)> = vec![
        (
            "get",
            "/instances/{id}",
            "/instances/999999".into(),
            who("desk"),
        ),
        (
            "get",
            "/instances/{id}",
            format!("/instances/{p}"),
            who("outsider"),
        ),
        ("get", "/processes", "/processes".into(), Anonymous),
    ];
    for (method, pattern, path, caller) in errors {
        let a = s.get(&path, caller).await;
        conforms(&doc, method, pattern, &a);
    }
    let a = post(
        &format!("/instances/{p}/approvals/peer"),
        who("reviewer1"),
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(a.status, 409);
    conforms(&doc, "post", "/instances/{id}/approvals/{approval}", &a);
    // An instance the caller may not read answers as an unknown one.
    let a = post(
        &format!("/instances/{c}/transitions/hold"),
        who("desk"),
        json!({"patch": {}}),
    )
    .await;
    assert_eq!(a.status, 404, "{}", a.text);
    conforms(&doc, "post", "/instances/{id}/transitions/{name}", &a);
    // A reader without the transition's role.
    let t = s.start_ticket().await;
    let a = post(
        &format!("/instances/{t}/transitions/triage"),
        who("resolver"),
        json!({"patch": {"category": "hardware"}}),
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.text);
    conforms(&doc, "post", "/instances/{id}/transitions/{name}", &a);
    s.stop().await;
}
