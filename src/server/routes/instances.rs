//! `/instances`: start, list, show, history, fire a transition, decide an
//! approval, SLA clocks. Writes are authorized by the engine against the
//! definition's roles (`started by`, `by`, approvers, `distinct from`).
//!
//! Reading an instance needs one of the roles of the definition version it
//! runs on ([`can_read`]), the one rule of every route here. A caller who
//! may not read an instance gets the answer of an instance that does not
//! exist (404 `unknown_instance`), on reads and writes alike and before
//! anything else about it is checked: a refusal never tells what the
//! caller may not read, nor whether it exists.
//!
//! Every POST takes an `Idempotency-Key` header ([`super::idempotency`]).

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::idempotency::{self, IdempotencyHeader};
use super::{as_seen_by, page_limit, whole_number, Json, Path, Query};
use crate::runtime::approval::Decision;
use crate::runtime::engine::WriteOptions;
use crate::runtime::idempotency::Written;
use crate::runtime::RuntimeError;
use crate::server::auth::{can_read, Caller};
use crate::server::error::{ApiError, ErrorBody};
use crate::server::schema::{Clocks, History, Instance, InstancePage};
use crate::server::AppState;

/// `POST /instances`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"process": "incident", "record": {"summary": "Mail down",
    "reported_by": "dan", "impact": "high", "urgency": "high"}}))]
pub struct StartBody {
    /// The process to start, e.g. `incident`.
    pub process: String,
    /// The initial record: field name to value.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub record: Map<String, Value>,
}

/// `POST /instances/{id}/transitions/{name}`.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"patch": {"category": "software"}, "revision": 1}))]
pub struct FireBody {
    /// Field changes (`null` clears a field).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub patch: Map<String, Value>,
    /// Refuse (409) unless the instance is still at this revision.
    #[serde(default, deserialize_with = "whole_number")]
    pub revision: Option<i64>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionText {
    Approve,
    Reject,
}

/// `POST /instances/{id}/approvals/{approval}`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision": "approve", "comment": "risk accepted"}))]
pub struct DecideBody {
    pub decision: DecisionText,
    pub comment: Option<String>,
    /// Refuse (409) unless the instance is still at this revision.
    #[serde(default, deserialize_with = "whole_number")]
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
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Only instances with an id greater than this: the `next` of the previous page.
    pub after: Option<i64>,
}

/// The refusal of an instance the caller may not read: the very answer
/// for an instance that does not exist.
fn unknown(id: i64) -> ApiError {
    ApiError::from(RuntimeError::UnknownInstance { id })
}

/// Refuses, as for an unknown instance, unless the caller may read
/// instance `id` (by the definition version it runs on).
async fn readable_instance(
    state: &AppState,
    actor: &crate::runtime::Actor,
    id: i64,
) -> Result<(), ApiError> {
    let process = state.engine().definition_of_instance(id).await?;
    if can_read(actor, &process) {
        Ok(())
    } else {
        Err(unknown(id))
    }
}

/// The engine's options for a write by the caller: unreadable instances
/// hidden, and the idempotency key with what the request asked.
fn write_options(
    state: &AppState,
    key: Option<String>,
    route: &str,
    body: &impl Serialize,
) -> Result<WriteOptions, ApiError> {
    Ok(WriteOptions {
        readers_only: true,
        idempotency: key
            .map(|key| idempotency::key(state, key, route, body))
            .transpose()?,
    })
}

/// Starts an instance of the deployed version of a process.
#[utoipa::path(
    post,
    path = "/instances",
    operation_id = "start_instance",
    tag = "instances",
    security(("bearer" = [])),
    params(IdempotencyHeader),
    request_body = StartBody,
    responses(
        (status = 201, description = "The started instance (or, for a repeated `Idempotency-Key`, the answer of the first request)", body = Instance),
        (status = 400, description = "Malformed JSON, or an invalid `Idempotency-Key`", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "The caller may not start the process", body = ErrorBody),
        (status = 404, description = "Process not deployed", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "Invalid or missing fields, or an `Idempotency-Key` sent before with a different request", body = ErrorBody),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    Caller(actor): Caller,
    IdempotencyHeader(key): IdempotencyHeader,
    Json(body): Json<StartBody>,
) -> Result<axum::response::Response, ApiError> {
    let opts = write_options(&state, key, "POST /instances", &body)?;
    let written = state
        .engine()
        .start_with(&opts, &body.process, &actor, &Value::Object(body.record))
        .await
        .map_err(|e| as_seen_by(&state, &actor, e))?;
    idempotency::answer(written, StatusCode::CREATED)
}

/// Instances by id, filtered by process and state, a page at a time; only
/// those of processes the caller may read. `next` is the `after` of the
/// next page (`null` at the end); a page may hold fewer than `limit` items
/// when some were not readable.
#[utoipa::path(
    get,
    path = "/instances",
    operation_id = "list_instances",
    tag = "instances",
    security(("bearer" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "A page of instances", body = InstancePage),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<InstancePage>, ApiError> {
    let limit = page_limit(params.limit)?;
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
    // By the version each instance runs on, like every read.
    let mut readable: HashMap<i64, bool> = HashMap::new();
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        let ok = match readable.get(&r.definition_id) {
            Some(ok) => *ok,
            None => {
                let p = state.engine().definition_by_id(r.definition_id).await?;
                let ok = can_read(&actor, &p);
                readable.insert(r.definition_id, ok);
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
    operation_id = "show_instance",
    tag = "instances",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Instance id", example = 1)),
    responses(
        (status = 200, description = "The instance", body = Instance),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 404, description = "No such instance, or one the caller may not read", body = ErrorBody),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> Result<axum::Json<Instance>, ApiError> {
    // Read first (one transaction), then authorize by the roles of the
    // version it runs on (cached by the read): a read changes nothing, and
    // the answer reveals nothing until the caller is known to be a reader.
    let view = state.engine().show(id).await?;
    let process = state.engine().definition_by_id(view.definition_id).await?;
    if !can_read(&actor, &process) {
        return Err(unknown(id));
    }
    Ok(axum::Json(view))
}

/// The events of an instance, oldest first.
#[utoipa::path(
    get,
    path = "/instances/{id}/history",
    operation_id = "instance_history",
    tag = "instances",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Instance id", example = 1)),
    responses(
        (status = 200, description = "The events, oldest first", body = History),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 404, description = "No such instance, or one the caller may not read", body = ErrorBody),
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
    operation_id = "fire_transition",
    tag = "instances",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Instance id", example = 1),
        ("name" = String, Path, description = "Transition name", example = "classify"),
        IdempotencyHeader,
    ),
    request_body = FireBody,
    responses(
        (status = 200, description = "The instance after the transition", body = Instance),
        (status = 400, description = "Malformed JSON, an id that is not a number, or an invalid `Idempotency-Key`", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "Role missing, or a timer's transition", body = ErrorBody),
        (status = 404, description = "No such instance (or one the caller may not read) or transition", body = ErrorBody),
        (status = 409, description = "Not allowed from the state, or a stale revision", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "Invalid or missing fields, guard false, or an `Idempotency-Key` sent before with a different request", body = ErrorBody),
    )
)]
pub async fn fire(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((id, name)): Path<(i64, String)>,
    IdempotencyHeader(key): IdempotencyHeader,
    Json(body): Json<FireBody>,
) -> Result<axum::response::Response, ApiError> {
    let route = format!("POST /instances/{id}/transitions/{name}");
    let opts = write_options(&state, key, &route, &body)?;
    let written = state
        .engine()
        .fire_with(
            &opts,
            id,
            &name,
            &actor,
            &Value::Object(body.patch),
            body.revision,
        )
        .await?;
    if matches!(written, Written::Done(_)) {
        state.metrics().fired("api", 1);
    }
    idempotency::answer(written, StatusCode::OK)
}

/// Records the caller's decision on an open approval.
#[utoipa::path(
    post,
    path = "/instances/{id}/approvals/{approval}",
    operation_id = "decide_approval",
    tag = "instances",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Instance id", example = 1),
        ("approval" = String, Path, description = "Approval name", example = "cab_approval"),
        IdempotencyHeader,
    ),
    request_body = DecideBody,
    responses(
        (status = 200, description = "The instance after the decision", body = Instance),
        (status = 400, description = "Malformed JSON, an id that is not a number, or an invalid `Idempotency-Key`", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 403, description = "Not an approver, or segregation of duties", body = ErrorBody),
        (status = 404, description = "No such instance (or one the caller may not read) or approval", body = ErrorBody),
        (status = 409, description = "Approval not open, already decided, or a stale revision", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "Invalid body, the outcome's required fields are missing, or an `Idempotency-Key` sent before with a different request", body = ErrorBody),
    )
)]
pub async fn decide(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((id, approval)): Path<(i64, String)>,
    IdempotencyHeader(key): IdempotencyHeader,
    Json(body): Json<DecideBody>,
) -> Result<axum::response::Response, ApiError> {
    let route = format!("POST /instances/{id}/approvals/{approval}");
    let opts = write_options(&state, key, &route, &body)?;
    let decision = match body.decision {
        DecisionText::Approve => Decision::Approve,
        DecisionText::Reject => Decision::Reject,
    };
    let written = state
        .engine()
        .decide_with(
            &opts,
            id,
            &approval,
            &actor,
            decision,
            body.comment.as_deref(),
            body.revision,
        )
        .await?;
    if matches!(written, Written::Done(_)) {
        state.metrics().decisions.inc();
    }
    idempotency::answer(written, StatusCode::OK)
}

/// The SLA clocks of an instance as of now.
#[utoipa::path(
    get,
    path = "/instances/{id}/clocks",
    operation_id = "instance_clocks",
    tag = "instances",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Instance id", example = 1)),
    responses(
        (status = 200, description = "The clocks as of now", body = Clocks),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "No token or an unknown one", body = ErrorBody),
        (status = 404, description = "No such instance, or one the caller may not read", body = ErrorBody),
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
