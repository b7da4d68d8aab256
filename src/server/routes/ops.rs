//! Operations: SLA breaches across instances, the coverage report, health,
//! readiness, metrics and the OpenAPI document.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;

use super::{page_limit, Query};
use crate::coverage::{self, DEFAULT_STANDARD};
use crate::ir::Process;
use crate::runtime::store::{ClockRow, Mode, Store, Tx};
use crate::runtime::RuntimeError;
use crate::server::auth::{can_read, Caller};
use crate::server::error::{ApiError, ErrorBody};
use crate::server::schema::{Breach, BreachPage, Health, Ready};
use crate::server::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BreachParams {
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `INSTANCE:SLA`: the `next` of the previous page.
    #[param(pattern = "^[0-9]{1,18}:[^\\x00]*$")]
    pub after: Option<String>,
}

/// A page of breached clocks, read in one transaction.
async fn breached_page(
    store: &Store,
    after: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<ClockRow>, RuntimeError> {
    match store {
        Store::Sqlite(pool) => {
            let mut tx = Store::begin_sqlite(pool, Mode::Read).await?;
            let rows = tx.breached_clocks(after, limit).await?;
            tx.commit().await?;
            Ok(rows)
        }
        Store::Postgres(pool) => {
            let mut tx = Store::begin_pg(pool, Mode::Read).await?;
            let rows = tx.breached_clocks(after, limit).await?;
            tx.commit().await?;
            Ok(rows)
        }
    }
}

/// `INSTANCE:SLA`, as `next` writes it (the pattern the document gives:
/// an SLA name never holds a NUL, which PostgreSQL would refuse).
fn parse_cursor(text: &str) -> Result<(i64, &str), ApiError> {
    text.split_once(':')
        .filter(|(id, sla)| {
            (1..=18).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_digit())
                && !sla.contains('\0')
        })
        .and_then(|(id, sla)| Some((id.parse().ok()?, sla)))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("`after` must be `INSTANCE:SLA` (the `next` of a page), not `{text}`"),
            )
        })
}

/// SLA clocks past their target, across the instances the caller may
/// read, by instance and SLA. `next` is the `after` of the next page.
#[utoipa::path(
    get,
    path = "/breaches",
    operation_id = "list_breaches",
    tag = "operations",
    security(("bearer" = [])),
    params(BreachParams),
    responses(
        (status = 200, description = "A page of breached clocks", body = BreachPage),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
    )
)]
pub async fn breaches(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(params): Query<BreachParams>,
) -> Result<axum::Json<BreachPage>, ApiError> {
    let limit = page_limit(params.limit)?;
    let after = params.after.as_deref().map(parse_cursor).transpose()?;
    let rows = breached_page(state.engine().store(), after, i64::from(limit)).await?;
    let next = if rows.len() == limit as usize {
        rows.last().map(|c| format!("{}:{}", c.instance_id, c.sla))
    } else {
        None
    };
    let now = jiff::Timestamp::now();
    let mut processes: HashMap<i64, Arc<Process>> = HashMap::new();
    let mut items = Vec::new();
    for row in rows {
        let process = match processes.get(&row.instance_id) {
            Some(p) => p.clone(),
            None => {
                let p = state
                    .engine()
                    .definition_of_instance(row.instance_id)
                    .await?;
                processes.insert(row.instance_id, p.clone());
                p
            }
        };
        if !can_read(&actor, &process) {
            continue;
        }
        let views = crate::runtime::clock::views(&process, std::slice::from_ref(&row), now)?;
        for v in views {
            items.push(Breach {
                instance: row.instance_id,
                process: process.name.clone(),
                clock: v,
            });
        }
    }
    Ok(axum::Json(BreachPage { items, next }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CoverageParams {
    /// The standard to measure against (default `iso20000-1:2018`).
    pub standard: Option<String>,
}

/// The coverage report of the deployed definitions (as `pdca coverage --format json`).
#[utoipa::path(
    get,
    path = "/coverage",
    operation_id = "coverage",
    tag = "operations",
    security(("bearer" = [])),
    params(CoverageParams),
    responses(
        (status = 200, description = "The coverage report", body = serde_json::Value),
        (status = 400, description = "Invalid query (a parameter other than `standard`)", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 404, description = "Unknown standard", body = ErrorBody),
    )
)]
pub async fn coverage(
    State(state): State<AppState>,
    Caller(_actor): Caller,
    Query(params): Query<CoverageParams>,
) -> Result<axum::Json<Value>, ApiError> {
    let program = state.program();
    let id = params.standard.as_deref().unwrap_or(DEFAULT_STANDARD);
    let Some(standard) = coverage::find_standard(program, id) else {
        let known: Vec<&str> = program.standards.iter().map(|s| s.id.as_str()).collect();
        return Err(
            ApiError::not_found("unknown_standard", format!("unknown standard `{id}`"))
                .with_details(json!({ "standard": id, "known": known })),
        );
    };
    let report = coverage::evaluate(program, standard);
    let value = serde_json::to_value(&report).map_err(|e| ApiError::internal(&e))?;
    Ok(axum::Json(value))
}

/// The process is up (no database access).
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    responses((status = 200, description = "Up", body = Health))
)]
pub async fn healthz() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".into(),
    })
}

/// The database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = Ready),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<axum::Json<Ready>, ApiError> {
    let store = state.engine().store();
    let result = match store {
        Store::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()),
        Store::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()),
    };
    match result {
        Ok(()) => Ok(axum::Json(Ready {
            status: "ready".into(),
            backend: store.backend().into(),
        })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "the database does not answer",
            ))
        }
    }
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses((status = 200, description = "OpenMetrics text", body = String, content_type = "application/openmetrics-text"))
)]
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let text = state
        .metrics()
        .encode()
        .map_err(|e| ApiError::internal(&e))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    ))
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI document", body = serde_json::Value))
)]
pub async fn openapi(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    state
        .openapi_json()
        .cloned()
        .map(axum::Json)
        .ok_or_else(|| ApiError::internal(&"the OpenAPI document was not built"))
}
