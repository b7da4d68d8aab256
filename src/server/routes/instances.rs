//! `/instances`: start, list, show, history, fire a transition, decide an
//! approval, SLA clocks. Writes are authorized by the engine against the
//! definition's roles (`started by`, `by`, approvers, `distinct from`);
//! reads need one of the process's roles ([`may_read`]).

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::{page_limit, Json, Path, Query};
use crate::runtime::approval::Decision;
use crate::server::auth::{can_read, may_read, Caller};
use crate::server::error::{ApiError, ErrorBody};
use crate::server::schema::{Clocks, History, Instance, InstancePage};
use crate::server::AppState;

/// `POST /instances`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    /// The process to start, e.g. `incident`.
    pub process: String,
    /// The initial record: field name to value.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub record: Map<String, Value>,
}

/// `POST /instances/{id}/transitions/{name}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FireBody {
    /// Field changes (`null` clears a field).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub patch: Map<String, Value>,
    /// Refuse (409) unless the instance is still at this revision.
    pub revision: Option<i64>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionText {
    Approve,
    Reject,
}

/// `POST /instances/{id}/approvals/{approval}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideBody {
    pub decision: DecisionText,
    pub comment: Option<String>,
    /// Refuse (409) unless the instance is still at this revision.
    pub revision: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only instances of this process.
    pub process: Option<String>,
    /// Only instances in this state.
    pub state: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// Only instances with an id greater than this: the `next` of the previous page.
    pub after: Option<i64>,
}

/// Refuses (403) unless the caller holds a role of the definition the
/// instance is pinned to (404 for an unknown instance).
async fn readable_instance(
    state: &AppState,
    actor: &crate::runtime::Actor,
    id: i64,
) -> Result<(), ApiError> {
    let process = state.engine().definition_of_instance(id).await?;
    may_read(actor, &process)
}

/// Starts an instance of the deployed version of a process.
#[utoipa::path(
    post,
    path = "/instances",
    tag = "instances",
    security(("bearer" = [])),
    request_body = StartBody,
    responses(
        (status = 201, description = "The started instance", body = Instance),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "The caller may not start the process", body = ErrorBody),
        (status = 404, description = "Process not deployed", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "Invalid or missing fields", body = ErrorBody),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Json(body): Json<StartBody>,
) -> Result<impl IntoResponse, ApiError> {
    let view = state
        .engine()
        .start(&body.process, &actor, &Value::Object(body.record))
        .await?;
    let location = format!("/instances/{}", view.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(view),
    ))
}

/// Instances by id, filtered by process and state, a page at a time; only
/// those of processes the caller may read. `next` is the `after` of the
/// next page (`null` at the end); a page may hold fewer than `limit` items
/// when some were not readable.
#[utoipa::path(
    get,
    path = "/instances",
    tag = "instances",
    security(("bearer" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "A page of instances", body = InstancePage),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "The caller may not read the named process", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<InstancePage>, ApiError> {
    let limit = page_limit(params.limit)?;
    if let Some(name) = &params.process {
        // A process that is not deployed has no instances: an empty page.
        match state.process(name).await {
            Ok(p) => may_read(&actor, &p)?,
            Err(crate::runtime::RuntimeError::NotDeployed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let rows = state
        .engine()
        .list(
            params.process.as_deref(),
            params.state.as_deref(),
            limit,
            params.after,
        )
        .await?;
    let next = if rows.len() == limit as usize {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let mut readable: HashMap<String, bool> = HashMap::new();
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        let ok = match readable.get(&r.process) {
            Some(ok) => *ok,
            None => {
                let ok = match state.process(&r.process).await {
                    Ok(p) => can_read(&actor, &p),
                    Err(crate::runtime::RuntimeError::NotDeployed { .. }) => false,
                    Err(e) => return Err(e.into()),
                };
                readable.insert(r.process.clone(), ok);
                ok
            }
        };
        if ok {
            items.push(r);
        }
    }
    Ok(axum::Json(InstancePage { items, next }))
}

/// An instance: state, revision, record, next transitions, open approvals, clocks.
#[utoipa::path(
    get,
    path = "/instances/{id}",
    tag = "instances",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Instance id")),
    responses(
        (status = 200, description = "The instance", body = Instance),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "The caller may not read the process", body = ErrorBody),
        (status = 404, description = "No such instance", body = ErrorBody),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> Result<axum::Json<Instance>, ApiError> {
    // Read first (one transaction), then authorize by the process's roles:
    // a read changes nothing, and the common case costs one round trip.
    let view = state.engine().show(id).await?;
    let process = state.process(&view.process).await?;
    may_read(&actor, &process)?;
    Ok(axum::Json(view))
}

/// The events of an instance, oldest first.
#[utoipa::path(
    get,
    path = "/instances/{id}/history",
    tag = "instances",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Instance id")),
    responses(
        (status = 200, description = "The events, oldest first", body = History),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "The caller may not read the process", body = ErrorBody),
        (status = 404, description = "No such instance", body = ErrorBody),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> Result<axum::Json<History>, ApiError> {
    readable_instance(&state, &actor, id).await?;
    let events = state.engine().history(id).await?;
    Ok(axum::Json(History {
        instance: id,
        events,
    }))
}

/// Fires a transition as the caller, applying the patch.
#[utoipa::path(
    post,
    path = "/instances/{id}/transitions/{name}",
    tag = "instances",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Instance id"),
        ("name" = String, Path, description = "Transition name"),
    ),
    request_body = FireBody,
    responses(
        (status = 200, description = "The instance after the transition", body = Instance),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "Role missing, or a timer's transition", body = ErrorBody),
        (status = 404, description = "No such instance or transition", body = ErrorBody),
        (status = 409, description = "Not allowed from the state, or a stale revision", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 422, description = "Invalid or missing fields, guard false", body = ErrorBody),
    )
)]
pub async fn fire(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((id, name)): Path<(i64, String)>,
    Json(body): Json<FireBody>,
) -> Result<axum::Json<Instance>, ApiError> {
    let view = state
        .engine()
        .fire(id, &name, &actor, &Value::Object(body.patch), body.revision)
        .await?;
    state.metrics().fired("api", 1);
    Ok(axum::Json(view))
}

/// Records the caller's decision on an open approval.
#[utoipa::path(
    post,
    path = "/instances/{id}/approvals/{approval}",
    tag = "instances",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Instance id"),
        ("approval" = String, Path, description = "Approval name"),
    ),
    request_body = DecideBody,
    responses(
        (status = 200, description = "The instance after the decision", body = Instance),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "Not an approver, or segregation of duties", body = ErrorBody),
        (status = 404, description = "No such instance or approval", body = ErrorBody),
        (status = 409, description = "Approval not open, already decided, or a stale revision", body = ErrorBody),
        (status = 422, description = "Invalid body, or the outcome's required fields are missing", body = ErrorBody),
    )
)]
pub async fn decide(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((id, approval)): Path<(i64, String)>,
    Json(body): Json<DecideBody>,
) -> Result<axum::Json<Instance>, ApiError> {
    let decision = match body.decision {
        DecisionText::Approve => Decision::Approve,
        DecisionText::Reject => Decision::Reject,
    };
    let view = state
        .engine()
        .decide(
            id,
            &approval,
            &actor,
            decision,
            body.comment.as_deref(),
            body.revision,
        )
        .await?;
    state.metrics().decisions.inc();
    Ok(axum::Json(view))
}

/// The SLA clocks of an instance as of now.
#[utoipa::path(
    get,
    path = "/instances/{id}/clocks",
    tag = "instances",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Instance id")),
    responses(
        (status = 200, description = "The clocks as of now", body = Clocks),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "The caller may not read the process", body = ErrorBody),
        (status = 404, description = "No such instance", body = ErrorBody),
    )
)]
pub async fn clocks(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> Result<axum::Json<Clocks>, ApiError> {
    readable_instance(&state, &actor, id).await?;
    let clocks = state.engine().clocks(id, jiff::Timestamp::now()).await?;
    Ok(axum::Json(Clocks {
        instance: id,
        clocks,
    }))
}
