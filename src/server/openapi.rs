//! The OpenAPI document's frame: title, the bearer security scheme and the
//! shared schemas. The paths come from the handlers themselves: every
//! route is registered through `utoipa_axum::routes!`, which adds the
//! handler's `#[utoipa::path]` to the document as it adds it to the router,
//! so the document cannot list a route the router does not serve, or miss
//! one it does.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::ErrorBody;

/// The name of the bearer scheme in `security` requirements.
pub const BEARER: &str = "bearer";

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some(
            "A token from `pdca token new`; the server's tokens file holds its SHA-256".into(),
        );
        components.add_security_scheme(BEARER, SecurityScheme::Http(http));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pdca",
        description = "The pdca runtime over HTTP: processes, instances, transitions, approvals, SLA clocks"
    ),
    modifiers(&BearerScheme),
    components(schemas(ErrorBody)),
    tags(
        (name = "processes", description = "Deployed process definitions"),
        (name = "instances", description = "Instances: start, read, fire, decide"),
        (name = "operations", description = "Health, readiness, metrics, coverage, SLA breaches"),
    )
)]
pub struct ApiDoc;
