//! `/processes`: the deployed definitions, as the caller may read them.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::Value;

use super::{as_seen_by, Path};
use crate::server::auth::{can_read, may_read, Caller};
use crate::server::diagram;
use crate::server::error::{ApiError, ErrorBody};
use crate::server::schema::{ProcessItem, ProcessList};
use crate::server::AppState;

/// The processes deployed at start that the caller may read.
#[utoipa::path(
    get,
    path = "/processes",
    operation_id = "list_processes",
    tag = "processes",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The processes the caller may read", body = ProcessList),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
    )
)]
pub async fn list(State(state): State<AppState>, Caller(actor): Caller) -> axum::Json<ProcessList> {
    let processes = state
        .program()
        .processes
        .iter()
        .filter(|p| can_read(&actor, p))
        .map(|p| ProcessItem {
            name: p.name.clone(),
            title: p.title.clone(),
            owner: p.owner.clone(),
            started_by: p.started_by.clone(),
            hash: p.hash.clone(),
            states: p.states.iter().map(|s| s.name.clone()).collect(),
        })
        .collect();
    axum::Json(ProcessList { processes })
}

/// The active compiled definition of a process (the IR as JSON).
#[utoipa::path(
    get,
    path = "/processes/{name}",
    operation_id = "show_process",
    tag = "processes",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "Process name", example = "incident")),
    responses(
        (status = 200, description = "The compiled definition (IR)", body = serde_json::Value),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "The caller holds none of the process's roles", body = ErrorBody),
        (status = 404, description = "Not deployed", body = ErrorBody),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let process = state
        .engine()
        .definition(&name)
        .await
        .map_err(|e| as_seen_by(&state, &actor, e))?;
    may_read(&actor, &process)?;
    let value = serde_json::to_value(&*process).map_err(|e| ApiError::internal(&e))?;
    Ok(axum::Json(value))
}

/// The process as a Mermaid `stateDiagram-v2` (text/plain).
#[utoipa::path(
    get,
    path = "/processes/{name}/diagram",
    operation_id = "process_diagram",
    tag = "processes",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "Process name", example = "incident")),
    responses(
        (status = 200, description = "Mermaid text", body = String, content_type = "text/plain"),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "The caller holds none of the process's roles", body = ErrorBody),
        (status = 404, description = "Not deployed", body = ErrorBody),
    )
)]
pub async fn diagram(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let process = state
        .engine()
        .definition(&name)
        .await
        .map_err(|e| as_seen_by(&state, &actor, e))?;
    may_read(&actor, &process)?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        diagram::mermaid(&process),
    ))
}
