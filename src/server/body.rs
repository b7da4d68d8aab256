//! Request bodies are read whole before a handler runs.
//!
//! A body over [`BODY_LIMIT`] is answered 413, but only after reading (and
//! discarding) up to [`DRAIN_LIMIT`] of it: a client still sending when the
//! answer is written would otherwise see its connection reset and lose the
//! answer (the "lingering close" HTTP servers do); the connection then
//! stays open for the client's next request. Beyond `DRAIN_LIMIT` (or when
//! the body cannot be read to its end) the answer says `Connection: close`
//! and the connection is closed after it, so a hostile upload costs at most
//! that much and a keep-alive client knows to open a new connection.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::error::ApiError;
use super::BODY_LIMIT;

/// How much of an oversized body is read and dropped before answering.
pub const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// Middleware: buffers the body, or answers 413 for one over the limit.
pub async fn read_whole(request: Request, next: Next) -> Response {
    let (parts, mut body) = request.into_parts();
    let mut kept: Vec<u8> = Vec::new();
    let mut seen = 0usize;
    let mut drained = true;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("cannot read the request body: {e}"),
                )
                .into_response()
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= BODY_LIMIT {
            kept.extend_from_slice(&data);
        } else if seen > DRAIN_LIMIT {
            drained = false;
            break;
        }
    }
    if seen > BODY_LIMIT {
        let mut response = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is over the limit of {BODY_LIMIT} bytes"),
        )
        .into_response();
        if !drained {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        return response;
    }
    next.run(Request::from_parts(parts, Body::from(kept))).await
}
