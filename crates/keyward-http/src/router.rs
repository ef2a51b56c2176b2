//! The router: every operation of the registry (`keyward_types::operations`) mounted at its
//! path, and nothing else but the operational routes.
//!
//! Handlers are added by operation type ([`Routes::add`]); [`api_routes`] refuses to build a
//! router in which a registered operation has no handler, so the server cannot start with an
//! operation documented but not served.

use axum::Router;
use axum::extract::Request;
use axum::handler::Handler;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use keyward_core::error::ApiError;
use keyward_types::ErrorCode;
use keyward_types::operations::{self as op, Endpoint, Method, Operation};

use crate::app::AppState;
use crate::error::ErrorResponse;
use crate::request_id;
use crate::routes::{
    apis, audit_logs, identities, keys, permissions, ratelimit, root_keys, system, workspaces,
};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Paths of the undocumented operational routes.
pub const OPERATIONAL_ROUTES: [&str; 2] = ["/openapi.json", "/metrics"];

/// The routes of registered operations, and which operations they serve.
struct Routes {
    router: Router<AppState>,
    served: Vec<&'static Operation>,
}

impl Routes {
    /// Serves operation `E` with `handler`.
    fn add<E: Endpoint, H: Handler<T, AppState>, T: 'static>(mut self, handler: H) -> Self {
        self.router = mount(self.router, E::OPERATION, handler);
        self.served.push(E::OPERATION);
        self
    }
}

fn mount<H: Handler<T, AppState>, T: 'static>(
    router: Router<AppState>,
    operation: &Operation,
    handler: H,
) -> Router<AppState> {
    match operation.method {
        Method::Post => router.route(operation.path, post(handler)),
        Method::Get => router.route(operation.path, get(handler)),
    }
}

/// Every registered operation with its handler.
///
/// # Panics
/// If an operation of the registry has no handler here (a bug the tests catch first).
pub fn api_routes() -> Router<AppState> {
    let routes = Routes {
        router: Router::new(),
        served: Vec::new(),
    }
    .add::<op::CreateApi, _, _>(apis::create_api::create_api)
    .add::<op::GetApi, _, _>(apis::get_api::get_api)
    .add::<op::UpdateApi, _, _>(apis::update_api::update_api)
    .add::<op::DeleteApi, _, _>(apis::delete_api::delete_api)
    .add::<op::ListKeys, _, _>(apis::list_keys::list_keys)
    .add::<op::CreateKey, _, _>(keys::create_key::create_key)
    .add::<op::GetKey, _, _>(keys::get_key::get_key)
    .add::<op::Whoami, _, _>(keys::whoami::whoami)
    .add::<op::UpdateKey, _, _>(keys::update_key::update_key)
    .add::<op::UpdateCredits, _, _>(keys::update_credits::update_credits)
    .add::<op::RerollKey, _, _>(keys::reroll_key::reroll_key)
    .add::<op::DeleteKey, _, _>(keys::delete_key::delete_key)
    .add::<op::VerifyKey, _, _>(keys::verify_key::verify_key)
    .add::<op::CreateRootKey, _, _>(root_keys::create_root_key::create_root_key)
    .add::<op::ListRootKeys, _, _>(root_keys::list_root_keys::list_root_keys)
    .add::<op::DeleteRootKey, _, _>(root_keys::delete_root_key::delete_root_key)
    .add::<op::CreateWorkspace, _, _>(workspaces::create_workspace::create_workspace)
    .add::<op::ListLogs, _, _>(audit_logs::list_logs::list_logs)
    .add::<op::CreatePermission, _, _>(permissions::create_permission::create_permission)
    .add::<op::GetPermission, _, _>(permissions::get_permission::get_permission)
    .add::<op::ListPermissions, _, _>(permissions::list_permissions::list_permissions)
    .add::<op::UpdatePermission, _, _>(permissions::update_permission::update_permission)
    .add::<op::DeletePermission, _, _>(permissions::delete_permission::delete_permission)
    .add::<op::CreateRole, _, _>(permissions::create_role::create_role)
    .add::<op::GetRole, _, _>(permissions::get_role::get_role)
    .add::<op::ListRoles, _, _>(permissions::list_roles::list_roles)
    .add::<op::UpdateRole, _, _>(permissions::update_role::update_role)
    .add::<op::DeleteRole, _, _>(permissions::delete_role::delete_role)
    .add::<op::SetRolePermissions, _, _>(permissions::set_role_permissions::set_role_permissions)
    .add::<op::AddPermissions, _, _>(keys::add_permissions::add_permissions)
    .add::<op::RemovePermissions, _, _>(keys::remove_permissions::remove_permissions)
    .add::<op::SetPermissions, _, _>(keys::set_permissions::set_permissions)
    .add::<op::AddRoles, _, _>(keys::add_roles::add_roles)
    .add::<op::RemoveRoles, _, _>(keys::remove_roles::remove_roles)
    .add::<op::SetRoles, _, _>(keys::set_roles::set_roles)
    .add::<op::CreateIdentity, _, _>(identities::create_identity::create_identity)
    .add::<op::GetIdentity, _, _>(identities::get_identity::get_identity)
    .add::<op::ListIdentities, _, _>(identities::list_identities::list_identities)
    .add::<op::UpdateIdentity, _, _>(identities::update_identity::update_identity)
    .add::<op::DeleteIdentity, _, _>(identities::delete_identity::delete_identity)
    .add::<op::CreateRootKeyUnkey, _, _>(root_keys::create_key::create_key)
    .add::<op::ListRootKeysUnkey, _, _>(root_keys::list_keys::list_keys)
    .add::<op::UpdateRootKey, _, _>(root_keys::update_key::update_key)
    .add::<op::RerollRootKey, _, _>(root_keys::reroll_key::reroll_key)
    .add::<op::DeleteRootKeyUnkey, _, _>(root_keys::delete_key::delete_key)
    .add::<op::Limit, _, _>(ratelimit::limit::limit)
    .add::<op::MultiLimit, _, _>(ratelimit::multi_limit::multi_limit)
    .add::<op::SetOverride, _, _>(ratelimit::set_override::set_override)
    .add::<op::GetOverride, _, _>(ratelimit::get_override::get_override)
    .add::<op::ListOverrides, _, _>(ratelimit::list_overrides::list_overrides)
    .add::<op::DeleteOverride, _, _>(ratelimit::delete_override::delete_override);
    let missing: Vec<&str> = op::ALL
        .iter()
        .filter(|registered| !routes.served.iter().any(|s| s.name == registered.name))
        .map(|registered| registered.name)
        .collect();
    assert!(
        missing.is_empty(),
        "registered operations without a handler: {missing:?}"
    );
    mount(routes.router, op::LIVENESS, system::liveness)
}

/// The complete service for `app`, as the server takes it: per connection, the router wrapped
/// once in the per-request middleware ([`request_id::PerRequest`]).
///
/// The middleware wraps the router from outside rather than through `Router::layer`, which
/// would wrap every route's boxed service on its own and clone that stack of boxes per request.
pub fn router(api: Router<AppState>, app: AppState) -> request_id::PerConnection {
    let router = api
        .route("/openapi.json", get(system::openapi))
        .route("/metrics", get(system::metrics))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app.clone());
    // No `DefaultBodyLimit` layer: axum's default limit is already 2 MiB (MAX_BODY_BYTES), and
    // the layer would insert a request extension on every request to say so.
    const _: () = assert!(MAX_BODY_BYTES == 2_097_152);
    request_id::PerConnection { router, app }
}

async fn route_not_found(request: Request) -> ErrorResponse {
    ApiError::new(
        ErrorCode::RouteNotFound,
        format!(
            "There is no route {} {}. Operations are POST /v2/<group>.<operation>; GET /openapi.json lists them.",
            request.method(),
            request.uri().path()
        ),
    )
    .into()
}

async fn method_not_allowed(request: Request) -> Response {
    let method_hint = if request.uri().path() == op::LIVENESS.path {
        "use GET"
    } else if request.uri().path().starts_with("/v2/") {
        "use POST with a JSON body"
    } else {
        "use GET"
    };
    ErrorResponse(ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!(
            "{} is not allowed on {}: {method_hint}.",
            request.method(),
            request.uri().path()
        ),
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_registered_operation_has_a_handler() {
        // Panics, naming them, if one has none.
        let _ = super::api_routes();
    }
}
