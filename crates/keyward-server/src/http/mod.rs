//! The HTTP face of keyward: routing, middleware, extractors, and the endpoint handlers.

pub mod connection;
pub mod extract;
mod json_body;
pub mod openapi;
pub mod request_id;
pub mod respond;
pub mod routes;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keyward_types::ErrorCode;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::ApiError;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "keyward",
        description = "Self-hosted API key management, wire-compatible with Unkey's v2 API. \
                       Every operation is `POST /v2/<group>.<operation>` with a JSON body and a root key \
                       as `Authorization: Bearer <root key>`.",
    ),
    modifiers(&RootKeyAuth),
    tags(
        (name = "apis", description = "API namespaces, the containers of keys"),
        (name = "keys", description = "Issuing, verifying and revoking keys"),
        (name = "rootKeys", description = "Keys that authorize calls to this API (keyward extension)"),
        (name = "workspaces", description = "Isolated tenants (keyward extension)"),
        (name = "auditLogs", description = "Who changed what (keyward extension)"),
    )
)]
struct ApiDoc;

struct RootKeyAuth;

impl Modify for RootKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "rootKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A root key: `Authorization: Bearer <root key>`"))
                    .build(),
            ),
        );
    }
}

/// Every documented route, and the OpenAPI document describing them.
pub fn api_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use routes::{apis, audit_logs, keys, root_keys, system, workspaces};
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(apis::create_api::create_api))
        .routes(routes!(apis::get_api::get_api))
        .routes(routes!(apis::update_api::update_api))
        .routes(routes!(apis::delete_api::delete_api))
        .routes(routes!(apis::list_keys::list_keys))
        .routes(routes!(keys::create_key::create_key))
        .routes(routes!(keys::get_key::get_key))
        .routes(routes!(keys::whoami::whoami))
        .routes(routes!(keys::update_key::update_key))
        .routes(routes!(keys::update_credits::update_credits))
        .routes(routes!(keys::reroll_key::reroll_key))
        .routes(routes!(keys::delete_key::delete_key))
        .routes(routes!(keys::verify_key::verify_key))
        .routes(routes!(root_keys::create_root_key::create_root_key))
        .routes(routes!(root_keys::list_root_keys::list_root_keys))
        .routes(routes!(root_keys::delete_root_key::delete_root_key))
        .routes(routes!(workspaces::create_workspace::create_workspace))
        .routes(routes!(audit_logs::list_logs::list_logs))
        .routes(routes!(system::liveness))
        .split_for_parts()
}

/// Paths of the undocumented operational routes.
pub const OPERATIONAL_ROUTES: [&str; 2] = ["/openapi.json", "/metrics"];

/// The complete service for `app`, as [`connection::serve`] takes it: per connection, the
/// router wrapped once in the per-request middleware ([`request_id::PerRequest`]).
///
/// The middleware wraps the router from outside rather than through `Router::layer`, which
/// would wrap every route's boxed service on its own and clone that stack of boxes per request.
pub fn router(api: Router<AppState>, app: AppState) -> request_id::PerConnection {
    let router = api
        .route("/openapi.json", get(routes::system::openapi))
        .route("/metrics", get(routes::system::metrics))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app.clone());
    // No `DefaultBodyLimit` layer: axum's default limit is already 2 MiB (MAX_BODY_BYTES), and
    // the layer would insert a request extension on every request to say so.
    const _: () = assert!(MAX_BODY_BYTES == 2_097_152);
    request_id::PerConnection { router, app }
}

async fn route_not_found(request: Request) -> ApiError {
    ApiError::new(
        ErrorCode::RouteNotFound,
        format!(
            "There is no route {} {}. Operations are POST /v2/<group>.<operation>; GET /openapi.json lists them.",
            request.method(),
            request.uri().path()
        ),
    )
}

async fn method_not_allowed(request: Request) -> Response {
    let method_hint =
        if request.uri().path().starts_with("/v2/") && request.uri().path() != "/v2/liveness" {
            "use POST with a JSON body"
        } else {
            "use GET"
        };
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!(
            "{} is not allowed on {}: {method_hint}.",
            request.method(),
            request.uri().path()
        ),
    )
    .into_response()
}
