//! Shared by the server tests: the server started in-process on an
//! ephemeral port over a [`TestDb`], test tokens for a cast of actors, and
//! a small HTTP client over real TCP (reqwest).

#![allow(dead_code)]

use std::collections::HashMap;

use pdca::ir::Program;
use pdca::runtime::Engine;
use pdca::server::auth::{hash_token, TokenEntry, Tokens};
use pdca::server::{self, AppState};
use reqwest::Method;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::runtime_support::{program, TestDb, APPROVALS, CLOCKS, TICKET};

/// The cast: token name -> (actor, roles).
pub const CAST: &[(&str, &str, &[&str])] = &[
    ("desk", "alice", &["service_desk"]),
    ("resolver", "bob", &["resolver"]),
    ("manager", "carol", &["incident_manager"]),
    ("author", "ann", &["author"]),
    ("reviewer1", "rita", &["reviewer"]),
    ("reviewer2", "ron", &["reviewer"]),
    ("author_reviewer", "abe", &["author", "reviewer"]),
    ("security", "sam", &["security"]),
    ("finance", "fay", &["finance"]),
    ("agent", "gus", &["agent"]),
    ("outsider", "otto", &["visitor"]),
];

/// The secret of a cast member's token.
pub fn token_of(name: &str) -> String {
    format!("pdca_test_token_{name}")
}

pub fn cast_entries() -> Vec<TokenEntry> {
    CAST.iter()
        .map(|(name, actor, roles)| TokenEntry {
            sha256: hash_token(&token_of(name)),
            actor: actor.to_string(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        })
        .collect()
}

/// The tokens file of the cast, as TOML.
pub fn cast_toml() -> String {
    let mut s = String::new();
    for e in cast_entries() {
        s += &format!(
            "[[token]]\nsha256 = \"{}\"\nactor = \"{}\"\nroles = [{}]\n\n",
            e.sha256,
            e.actor,
            e.roles
                .iter()
                .map(|r| format!("\"{r}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    s
}

/// The test definitions: tickets, proposals with approvals, cases with an SLA.
pub fn test_program() -> Program {
    program(&[
        ("ticket.pdca", TICKET),
        ("approvals.pdca", APPROVALS),
        ("clocks.pdca", CLOCKS),
    ])
}

/// Who calls: a cast member, no token, or a token nobody configured.
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    As(&'a str),
    Anonymous,
    BadToken,
}

#[allow(unused_imports)]
pub use Who::{Anonymous, BadToken};

pub fn who(name: &str) -> Who<'_> {
    Who::As(name)
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.text))
    }

    /// The error code of an error answer.
    pub fn code(&self) -> String {
        let v = self.json();
        for key in ["code", "message", "details"] {
            assert!(v.get(key).is_some(), "error without `{key}`: {}", self.text);
        }
        v["code"].as_str().unwrap_or_default().to_string()
    }
}

pub struct TestServer {
    pub base: String,
    pub state: AppState,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Connects, deploys [`test_program`] and serves on 127.0.0.1:0.
    pub async fn start(db: &TestDb) -> TestServer {
        let program = test_program();
        let engine = match Engine::connect(&db.url).await {
            Ok(e) => e,
            Err(e) => panic!("connect {}: {e}", db.url),
        };
        engine.deploy(&program).await.expect("deploy");
        let tokens = Tokens::from_entries(cast_entries()).expect("tokens");
        let state = AppState::new(engine, program, tokens);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(server::serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        TestServer {
            base: format!("http://{addr}"),
            state,
            client: reqwest::Client::new(),
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// Stops serving and closes the database.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.expect("server task").expect("server");
        }
        self.state.engine().store().close().await;
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        who: Who<'_>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        match who {
            Who::As(name) => req = req.bearer_auth(token_of(name)),
            Who::BadToken => req = req.bearer_auth("pdca_not_a_configured_token"),
            Who::Anonymous => {}
        }
        if let Some((content_type, bytes)) = body {
            req = req.header("content-type", content_type).body(bytes);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        Answer {
            status,
            headers,
            text,
        }
    }

    pub async fn get(&self, path: &str, who: Who<'_>) -> Answer {
        self.request(Method::GET, path, who, None).await
    }

    pub async fn post(&self, path: &str, who: Who<'_>, body: &Value) -> Answer {
        let bytes = serde_json::to_vec(body).expect("json");
        self.request(Method::POST, path, who, Some(("application/json", bytes)))
            .await
    }

    /// A GET that must answer 200 with JSON.
    pub async fn ok(&self, path: &str, who: Who<'_>) -> Value {
        let a = self.get(path, who).await;
        assert_eq!(a.status, 200, "GET {path}: {}", a.text);
        a.json()
    }

    /// Starts a ticket as the service desk; its id.
    pub async fn start_ticket(&self) -> i64 {
        let a = self
            .post(
                "/instances",
                who("desk"),
                &serde_json::json!({
                    "process": "ticket",
                    "record": {"summary": "Printer on fire", "reported_by": "dan",
                               "impact": "high", "urgency": "high"}
                }),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.text);
        a.json()["id"].as_i64().expect("id")
    }
}

/// Counts of what the database holds, to show that a refused request
/// changed nothing.
pub async fn snapshot(db: &TestDb) -> HashMap<&'static str, i64> {
    let mut out = HashMap::new();
    for (name, sql) in [
        ("instances", "SELECT COUNT(*) FROM instances"),
        ("events", "SELECT COUNT(*) FROM events"),
        (
            "revisions",
            "SELECT CAST(COALESCE(SUM(revision), 0) AS BIGINT) FROM instances",
        ),
        ("timers", "SELECT COUNT(*) FROM timers"),
        ("clocks", "SELECT COUNT(*) FROM clocks"),
        ("outbox", "SELECT COUNT(*) FROM outbox"),
    ] {
        out.insert(name, db.count(sql).await);
    }
    out
}
