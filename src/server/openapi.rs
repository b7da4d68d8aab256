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

/// The links of the document (OpenAPI `links`): from an instance answered
/// by a start, a transition or a decision to the operations on that
/// instance, so that a client (and schemathesis's stateful phase) can
/// follow one call with the next.
pub fn add_links(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::link::Link;
    use utoipa::openapi::RefOr;
    let targets = [
        ("ShowInstance", "show_instance"),
        ("InstanceHistory", "instance_history"),
        ("InstanceClocks", "instance_clocks"),
        ("FireTransition", "fire_transition"),
        ("DecideApproval", "decide_approval"),
    ];
    let sources = [
        ("/instances", "post", "201"),
        ("/instances/{id}/transitions/{name}", "post", "200"),
        ("/instances/{id}/approvals/{approval}", "post", "200"),
        ("/instances/{id}", "get", "200"),
    ];
    for (path, method, status) in sources {
        let Some(item) = doc.paths.paths.get_mut(path) else {
            continue;
        };
        let op = match method {
            "post" => item.post.as_mut(),
            _ => item.get.as_mut(),
        };
        let Some(RefOr::T(response)) = op.and_then(|op| op.responses.responses.get_mut(status))
        else {
            continue;
        };
        for (name, operation) in targets {
            let link = Link::builder()
                .operation_id(operation)
                .parameter("id", "$response.body#/id")
                .description(format!("`{operation}` on the instance answered"))
                .build();
            response.links.insert(name.to_string(), RefOr::T(link));
        }
    }
}
