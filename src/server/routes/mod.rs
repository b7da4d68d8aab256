//! The routes, one module per resource, and the extractors that turn
//! axum's rejections into the API's error shape.

mod idempotency;
mod instances;
mod ops;
mod processes;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::can_read;
use super::error::ApiError;
use super::AppState;
use crate::runtime::{Actor, RuntimeError};

/// Every route, each registered with its OpenAPI operation.
pub fn all() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(processes::list))
        .routes(routes!(processes::show))
        .routes(routes!(processes::diagram))
        .routes(routes!(instances::start, instances::list))
        .routes(routes!(instances::show))
        .routes(routes!(instances::history))
        .routes(routes!(instances::fire))
        .routes(routes!(instances::decide))
        .routes(routes!(instances::clocks))
        .routes(routes!(ops::breaches))
        .routes(routes!(ops::coverage))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
}

/// `axum::Json` with the API's errors (malformed JSON 400, wrong types
/// 422, missing content type 415, body over the limit 413).
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Json(v))
    }
}

/// `axum::extract::Path` with the API's errors.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(v) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Path(v))
    }
}

/// `axum::extract::Query` with the API's errors.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(v) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Query(v))
    }
}

/// Page sizes: at most this many items per page, this many by default.
pub const MAX_LIMIT: u32 = 1000;
pub const DEFAULT_LIMIT: u32 = 100;

/// A `limit` query parameter within 1..=[`MAX_LIMIT`].
pub fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("`limit` must be between 1 and {MAX_LIMIT}, not {n}"),
        )),
    }
}

/// An optional whole number, also when written with a zero fraction
/// (`1940.0`): JSON Schema counts such numbers as integers, and so does
/// the API.
pub fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    if let Some(i) = n.as_i64() {
        return Ok(Some(i));
    }
    match n.as_f64() {
        // 2^63 is the first f64 above i64::MAX.
        Some(f)
            if f.fract() == 0.0
                && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) =>
        {
            Ok(Some(f as i64))
        }
        _ => Err(D::Error::custom(format!(
            "invalid value: {n}, expected a whole number from -2^63 to 2^63-1"
        ))),
    }
}

/// A refusal as the caller may see it: `not_deployed` lists only the
/// deployed processes the caller may read (the others' names are not the
/// caller's to learn).
pub fn as_seen_by(state: &AppState, actor: &Actor, e: RuntimeError) -> ApiError {
    match e {
        RuntimeError::NotDeployed { process, deployed } => {
            let deployed = deployed
                .into_iter()
                .filter(|name| {
                    state
                        .program()
                        .processes
                        .iter()
                        .any(|p| &p.name == name && can_read(actor, p))
                })
                .collect();
            ApiError::from(RuntimeError::NotDeployed { process, deployed })
        }
        e => ApiError::from(e),
    }
}
