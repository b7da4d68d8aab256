//! The one error shape of the API: `{"code", "message", "details"}` with
//! a status, for runtime refusals, authentication, and axum's own
//! rejections (bad JSON, wrong types, unknown routes, oversized bodies).
//!
//! A refusal of the engine keeps its stable code ([`RuntimeError::code`])
//! and message; a database failure is logged with its details and answered
//! with a generic 500, so no internals reach the client.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::runtime::RuntimeError;

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable snake_case name of the error kind, e.g. `role_missing`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// Facts about the error (fields, allowed transitions, ...), by kind.
    #[schema(value_type = Object)]
    pub details: Value,
}

/// An error answer: a status, the body, and whether it asks for a bearer
/// token (`WWW-Authenticate`).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// `Some(error)` adds `WWW-Authenticate: Bearer` (with `error="…"`).
    pub challenge: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                code: code.to_string(),
                message: message.into(),
                details: json!({}),
            },
            challenge: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.body.details = details;
        self
    }

    /// 401: no token, or one that is not configured.
    pub fn unauthorized(code: &str, message: &str, error: Option<&'static str>) -> ApiError {
        let mut e = ApiError::new(StatusCode::UNAUTHORIZED, code, message);
        e.challenge = Some(error.unwrap_or(""));
        e
    }

    pub fn not_found(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 500 without internals; `what` is logged.
    pub fn internal(what: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %what, "internal server error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server could not complete the request; the error was logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if let Some(error) = self.challenge {
            let value = if error.is_empty() {
                HeaderValue::from_static("Bearer realm=\"pdca\"")
            } else {
                HeaderValue::from_str(&format!("Bearer realm=\"pdca\", error=\"{error}\""))
                    .unwrap_or(HeaderValue::from_static("Bearer realm=\"pdca\""))
            };
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// The HTTP status of a runtime error.
pub fn status_of(e: &RuntimeError) -> StatusCode {
    use RuntimeError as E;
    match e {
        E::NotDeployed { .. }
        | E::UnknownInstance { .. }
        | E::UnknownTransition { .. }
        | E::UnknownApproval { .. } => StatusCode::NOT_FOUND,
        E::RoleMissing { .. }
        | E::NotAnApprover { .. }
        | E::RequesterMayNotDecide { .. }
        | E::ExcludedRole { .. }
        | E::AutomaticTransition { .. } => StatusCode::FORBIDDEN,
        E::NotAllowedFromState { .. }
        | E::ApprovalNotOpen { .. }
        | E::AlreadyDecided { .. }
        | E::Conflict { .. } => StatusCode::CONFLICT,
        E::InvalidActor { .. }
        | E::InvalidFields { .. }
        | E::MissingFields { .. }
        | E::GuardFalse { .. }
        | E::GuardFailed { .. }
        | E::SpawnGuardFailed { .. }
        | E::SpawnTooDeep { .. }
        | E::IdempotencyKeyReused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        // The step is refused for the reason its spawned start was.
        E::SpawnRefused { reason, .. } => status_of(reason),
        E::Unreachable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        E::UnsupportedUrl { .. }
        | E::SchemaTooNew { .. }
        | E::Migration { .. }
        | E::Database { .. }
        | E::Corrupt { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The facts of a refusal, as JSON.
fn details_of(e: &RuntimeError) -> Value {
    use RuntimeError as E;
    match e {
        E::NotDeployed { process, deployed } => json!({"process": process, "deployed": deployed}),
        E::UnknownInstance { id } => json!({ "id": id }),
        E::UnknownTransition {
            transition,
            state,
            allowed,
        } => json!({"transition": transition, "state": state, "allowed": allowed}),
        E::NotAllowedFromState {
            transition,
            state,
            from,
            allowed,
        } => json!({"transition": transition, "state": state, "from": from, "allowed": allowed}),
        E::AutomaticTransition { transition, after } => {
            json!({"transition": transition, "after": after})
        }
        E::RoleMissing {
            action,
            actor,
            actor_roles,
            allowed,
        } => {
            json!({"action": action, "actor": actor, "actor_roles": actor_roles, "allowed": allowed})
        }
        E::InvalidActor { reason } => json!({ "reason": reason }),
        E::InvalidFields { problems } => json!({ "problems": problems }),
        E::MissingFields { fields, needed_for } => {
            json!({"fields": fields, "needed_for": needed_for})
        }
        E::GuardFalse { transition, guard } => json!({"transition": transition, "guard": guard}),
        E::GuardFailed {
            transition,
            guard,
            reason,
        } => json!({"transition": transition, "guard": guard, "reason": reason}),
        E::UnknownApproval {
            approval,
            process,
            known,
        } => json!({"approval": approval, "process": process, "known": known}),
        E::ApprovalNotOpen {
            approval,
            on,
            state,
        } => json!({"approval": approval, "on": on, "state": state}),
        E::NotAnApprover {
            approval,
            actor,
            actor_roles,
            approvers,
        } => {
            json!({"approval": approval, "actor": actor, "actor_roles": actor_roles, "approvers": approvers})
        }
        E::RequesterMayNotDecide { approval, actor } => {
            json!({"approval": approval, "actor": actor})
        }
        E::ExcludedRole {
            approval,
            actor,
            role,
        } => json!({"approval": approval, "actor": actor, "role": role}),
        E::AlreadyDecided {
            approval,
            actor,
            decision,
            seq,
        } => json!({"approval": approval, "actor": actor, "decision": decision, "seq": seq}),
        E::Conflict {
            id,
            expected,
            actual,
        } => json!({"id": id, "expected": expected, "actual": actual}),
        E::SpawnRefused {
            process,
            instance,
            state,
            spawned,
            reason,
        } => json!({
            "process": process,
            "instance": instance,
            "state": state,
            "spawned": spawned,
            "reason": {"code": reason.code(), "message": reason.to_string(), "details": details_of(reason)},
        }),
        E::SpawnGuardFailed {
            process,
            state,
            spawned,
            guard,
            reason,
        } => {
            json!({"process": process, "state": state, "spawned": spawned, "guard": guard, "reason": reason})
        }
        E::SpawnTooDeep { chain, limit } => json!({"chain": chain, "limit": limit}),
        E::IdempotencyKeyReused { key } => json!({ "key": key }),
        E::UnsupportedUrl { .. }
        | E::Unreachable { .. }
        | E::SchemaTooNew { .. }
        | E::Migration { .. }
        | E::Database { .. }
        | E::Corrupt { .. } => json!({}),
    }
}

impl From<RuntimeError> for ApiError {
    fn from(e: RuntimeError) -> ApiError {
        if !e.is_refusal() {
            tracing::error!(code = e.code(), error = %e, "runtime failure");
            let status = status_of(&e);
            let (code, message) = if status == StatusCode::SERVICE_UNAVAILABLE {
                ("database_unavailable", "the database cannot be reached")
            } else {
                (
                    "internal_error",
                    "the server could not complete the request; the error was logged",
                )
            };
            return ApiError::new(status, code, message);
        }
        let mut details = details_of(&e);
        if let (Some(help), Value::Object(map)) = (e.help(), &mut details) {
            map.insert("help".into(), Value::from(help));
        }
        ApiError::new(status_of(&e), e.code(), e.to_string()).with_details(details)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        let code = match &r {
            JsonRejection::JsonDataError(_) => "invalid_body",
            JsonRejection::JsonSyntaxError(_) => "malformed_json",
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            JsonRejection::BytesRejection(_) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                "payload_too_large"
            }
            _ => "bad_request",
        };
        ApiError::new(r.status(), code, r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> ApiError {
        // A path that names no resource of the right kind (`/instances/abc`).
        ApiError::new(r.status(), "invalid_path", r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> ApiError {
        ApiError::new(r.status(), "invalid_query", r.body_text())
    }
}

/// The fallback for paths no route serves.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found("not_found", format!("no route serves `{}`", uri.path()))
}

/// The answer when a path is served but not with this method.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("`{}` does not accept {method}", uri.path()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_hide_internals() {
        let e = ApiError::from(RuntimeError::Database {
            reason: "password authentication failed for user x".into(),
        });
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.body.message.contains("password"));
    }

    #[test]
    fn refusals_keep_their_code() {
        let e = ApiError::from(RuntimeError::UnknownInstance { id: 7 });
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.body.code, "unknown_instance");
        assert_eq!(e.body.details["id"], 7);
    }
}
