//! The `Idempotency-Key` header of the POST routes (the convention of the
//! IETF httpapi draft and Stripe's API): a client retrying a write sends
//! the key of its first attempt and gets that attempt's answer (status and
//! body, with `Idempotency-Replayed: true`) instead of a second write. The
//! key is scoped to the caller; the same key with a different request
//! (route or body) is refused with 422 `idempotency_key_reused`. The engine
//! records the key in the transaction of the write
//! ([`crate::runtime::idempotency`]); the worker forgets keys older than
//! the server's retention ([`AppState::idempotency_retention`]).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, Required, Type};
use utoipa::IntoParams;

use crate::runtime::audit::canonical_json;
use crate::runtime::idempotency::{IdempotencyKey, Written};
use crate::server::error::ApiError;
use crate::server::AppState;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The answer header of a replayed answer.
pub const REPLAYED: &str = "idempotency-replayed";
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// The `Idempotency-Key` of a request, if it has one: 1 to 255 visible
/// ASCII characters (else 400 `invalid_header`).
pub struct IdempotencyHeader(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let mut values = parts.headers.get_all(HEADER).iter();
        let Some(value) = values.next() else {
            return Ok(IdempotencyHeader(None));
        };
        let invalid = |why: &str| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_header",
                format!("the `Idempotency-Key` header {why}"),
            )
            .with_details(json!({
                "header": "Idempotency-Key",
                "help": format!("send one key of 1 to {MAX_KEY_LEN} visible ASCII characters, e.g. a UUID"),
            }))
        };
        if values.next().is_some() {
            return Err(invalid("is given more than once"));
        }
        let bytes = value.as_bytes();
        if bytes.is_empty() || bytes.len() > MAX_KEY_LEN {
            return Err(invalid(&format!(
                "must have 1 to {MAX_KEY_LEN} characters, not {}",
                bytes.len()
            )));
        }
        if !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return Err(invalid(
                "may hold only visible ASCII characters (no spaces)",
            ));
        }
        Ok(IdempotencyHeader(Some(
            String::from_utf8_lossy(bytes).into_owned(),
        )))
    }
}

impl IntoParams for IdempotencyHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Makes a retry safe: a request repeating the key (and the route and body) of an \
                 earlier one by the same caller gets the earlier answer, without writing again. \
                 The same key with a different request is refused (422 \
                 `idempotency_key_reused`). Keys are kept for the server's \
                 `--idempotency-retention` (24 h by default).",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(MAX_KEY_LEN))
                    .pattern(Some("^[!-~]+$")),
            ))
            .build()]
    }
}

/// The engine's key for a request: what it asked (the route and the
/// parsed body, hashed), and the oldest time a stored key still counts.
pub fn key(
    state: &AppState,
    key: String,
    route: &str,
    body: &impl Serialize,
) -> Result<IdempotencyKey, ApiError> {
    let body = serde_json::to_value(body).map_err(|e| ApiError::internal(&e))?;
    // Canonical JSON (sorted keys): the same request however it was spelt.
    let asked = canonical_json(&json!({ "route": route, "body": body }));
    let fingerprint = hex::encode(Sha256::digest(asked.as_bytes()));
    let now = jiff::Timestamp::now();
    let not_before = now
        .checked_sub(state.idempotency_retention())
        .unwrap_or(now);
    Ok(IdempotencyKey {
        key,
        fingerprint,
        not_before: format!("{not_before:.6}"),
    })
}

/// The answer of a write: `status` and the instance (a `Location` with
/// 201), the first attempt's for a replay.
pub fn answer(written: Written, status: StatusCode) -> Result<Response, ApiError> {
    let (body, replayed) = match written {
        Written::Done(view) => (
            serde_json::to_string(&view).map_err(|e| ApiError::internal(&e))?,
            false,
        ),
        Written::Replayed(body) => (body, true),
    };
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.clone(),
    )
        .into_response();
    let headers = response.headers_mut();
    if status == StatusCode::CREATED {
        let id = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["id"].as_i64());
        if let Some(Ok(location)) = id.map(|id| HeaderValue::from_str(&format!("/instances/{id}")))
        {
            headers.insert(header::LOCATION, location);
        }
    }
    if replayed {
        headers.insert(
            HeaderName::from_static(REPLAYED),
            HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}
