//! `POST /v2/rootKeys.listRootKeys`

use axum::extract::State;
use keyward_types::root_keys::{ListRootKeysRequest, RootKey};
use keyward_types::{Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Page;
use crate::service;

/// List root keys (keyward extension)
///
/// Lists the workspace's root keys (never their secrets). Needs `rootkey.*.read_root_key`.
#[utoipa::path(
    post,
    path = "/v2/rootKeys.listRootKeys",
    tag = "rootKeys",
    operation_id = "rootKeys.listRootKeys",
    request_body = ListRootKeysRequest,
    security(("rootKey" = [])),
    responses(
        (status = 200, description = "Success", body = Envelope<Vec<RootKey>>),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Unknown root key", body = ErrorEnvelope),
        (status = 403, description = "Missing permission", body = ErrorEnvelope),
        (status = 500, description = "Internal error; the log has the cause under the request id", body = ErrorEnvelope),
    )
)]
pub async fn list_root_keys(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<ListRootKeysRequest>,
) -> ApiResult<Page<RootKey>> {
    service::root_keys::list_root_keys(&app, &caller, request)
        .await
        .map(Page::from)
}
