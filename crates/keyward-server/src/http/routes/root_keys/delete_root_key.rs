//! `POST /v2/rootKeys.deleteRootKey`

use axum::extract::State;
use keyward_types::root_keys::DeleteRootKeyRequest;
use keyward_types::{Empty, Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Data;
use crate::service;

/// Delete a root key (keyward extension)
///
/// Deletes a root key; it is refused from the moment this returns. Needs `rootkey.*.delete_root_key`
/// and every permission the target holds (403 names those missing); a root key may delete itself.
#[utoipa::path(
    post,
    path = "/v2/rootKeys.deleteRootKey",
    tag = "rootKeys",
    operation_id = "rootKeys.deleteRootKey",
    request_body = DeleteRootKeyRequest,
    security(("rootKey" = [])),
    responses(
        (status = 200, description = "Success", body = Envelope<Empty>),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Unknown root key", body = ErrorEnvelope),
        (status = 403, description = "Missing permission", body = ErrorEnvelope),
        (status = 404, description = "Not found in this workspace", body = ErrorEnvelope),
        (status = 500, description = "Internal error; the log has the cause under the request id", body = ErrorEnvelope),
    )
)]
pub async fn delete_root_key(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<DeleteRootKeyRequest>,
) -> ApiResult<Data<Empty>> {
    service::root_keys::delete_root_key(&app, &caller, request)
        .await
        .map(Data)
}
