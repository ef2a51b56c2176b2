//! `POST /v2/rootKeys.createRootKey`

use axum::extract::State;
use keyward_types::root_keys::{CreateRootKeyRequest, CreateRootKeyResponseData};
use keyward_types::{Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Data;
use crate::service;

/// Create a root key (keyward extension)
///
/// Creates a root key of the caller's workspace. It may only hold permissions the caller holds. Needs `rootkey.*.create_root_key`.
#[utoipa::path(
    post,
    path = "/v2/rootKeys.createRootKey",
    tag = "rootKeys",
    operation_id = "rootKeys.createRootKey",
    request_body = CreateRootKeyRequest,
    security(("rootKey" = [])),
    responses(
        (status = 200, description = "Success", body = Envelope<CreateRootKeyResponseData>),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Unknown root key", body = ErrorEnvelope),
        (status = 403, description = "Missing permission", body = ErrorEnvelope),
        (status = 500, description = "Internal error; the log has the cause under the request id", body = ErrorEnvelope),
    )
)]
pub async fn create_root_key(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<CreateRootKeyRequest>,
) -> ApiResult<Data<CreateRootKeyResponseData>> {
    service::root_keys::create_root_key(&app, &caller, request)
        .await
        .map(Data)
}
