//! `pdca serve`: the runtime over HTTP (axum on tokio, JSON).
//!
//! [`AppState`] holds the engine, the deployed program, the tokens and the
//! metrics; [`router`] builds the routes (each documented in the OpenAPI
//! document it serves at `/openapi.json`); [`serve`] runs them on a
//! listener until a shutdown signal, finishing in-flight requests; the
//! [`worker`] ticks the engine in the background.
//!
//! A bench or a test starts the whole server in-process:
//!
//! ```no_run
//! # async fn f(engine: pdca::runtime::Engine, program: pdca::ir::Program) -> std::io::Result<()> {
//! use pdca::server::{self, AppState, auth::Tokens};
//! let state = AppState::new(engine, program, Tokens::none());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(server::serve(listener, state, std::future::pending()));
//! # Ok(()) }
//! ```

pub mod auth;
mod body;
pub mod diagram;
pub mod error;
pub mod metrics;
pub mod openapi;
mod routes;
pub mod schema;
pub mod worker;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::ir::{Process, Program};
use crate::runtime::Engine;
use auth::Tokens;
use metrics::Metrics;

/// The largest request body accepted (413 above).
pub const BODY_LIMIT: usize = 1024 * 1024;

struct Inner {
    engine: Engine,
    program: Program,
    /// The processes of `program` by name, for authorizing reads without
    /// a database round trip.
    processes: HashMap<String, Arc<Process>>,
    tokens: Tokens,
    metrics: Metrics,
    /// The OpenAPI document, filled once the router is built.
    openapi: OnceLock<serde_json::Value>,
    /// How long idempotency keys are kept, in seconds.
    idempotency_retention: AtomicU64,
}

/// How long idempotency keys are kept unless `serve` is told otherwise.
pub const DEFAULT_IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// What every handler shares.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// State for a server over `engine`, whose definitions `program` has
    /// been deployed (see [`Engine::deploy`]).
    pub fn new(engine: Engine, program: Program, tokens: Tokens) -> AppState {
        let processes = program
            .processes
            .iter()
            .map(|p| (p.name.clone(), Arc::new(p.clone())))
            .collect();
        AppState(Arc::new(Inner {
            engine,
            program,
            processes,
            tokens,
            metrics: Metrics::new(),
            openapi: OnceLock::new(),
            idempotency_retention: AtomicU64::new(DEFAULT_IDEMPOTENCY_RETENTION.as_secs()),
        }))
    }

    /// How long an idempotency key is honoured (and kept by the worker).
    pub fn idempotency_retention(&self) -> Duration {
        Duration::from_secs(self.0.idempotency_retention.load(Ordering::Relaxed))
    }

    /// Sets [`AppState::idempotency_retention`] (whole seconds).
    pub fn set_idempotency_retention(&self, retention: Duration) {
        self.0
            .idempotency_retention
            .store(retention.as_secs(), Ordering::Relaxed);
    }

    pub fn engine(&self) -> &Engine {
        &self.0.engine
    }

    pub fn program(&self) -> &Program {
        &self.0.program
    }

    /// The definition of `name` deployed by this server, else the active
    /// one in the database (deployed by another replica).
    pub async fn process(&self, name: &str) -> Result<Arc<Process>, crate::runtime::RuntimeError> {
        match self.0.processes.get(name) {
            Some(p) => Ok(p.clone()),
            None => self.0.engine.definition(name).await,
        }
    }

    pub fn tokens(&self) -> &Tokens {
        &self.0.tokens
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    fn openapi_json(&self) -> Option<&serde_json::Value> {
        self.0.openapi.get()
    }
}

/// Every route (through the documented router) and the OpenAPI document.
fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi()).merge(routes::all())
}

/// The OpenAPI document of the routes [`router`] serves.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut doc = documented().into_openapi();
    openapi::add_links(&mut doc);
    doc
}

/// The application: every route, JSON errors for unknown routes and
/// methods, the body limit and the metrics middleware.
pub fn router(state: AppState) -> Router {
    let (routes, mut api) = documented().split_for_parts();
    openapi::add_links(&mut api);
    if let Ok(doc) = serde_json::to_value(&api) {
        let _ = state.0.openapi.set(doc);
    }
    routes
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn(body::read_whole))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` completes, then stops
/// accepting connections and waits for the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
