//! `POST /v2/keys.rerollKey`

use axum::extract::State;
use keyward_types::keys::{RerollKeyRequest, RerollKeyResponseData};
use keyward_types::{Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Data;
use crate::service;

/// Reroll a key
///
/// Issues a new key with the old key's settings; the old key keeps working for `expiration` ms. Needs `create_key` on its API.
#[utoipa::path(
    post,
    path = "/v2/keys.rerollKey",
    tag = "keys",
    operation_id = "keys.rerollKey",
    request_body = RerollKeyRequest,
    security(("rootKey" = [])),
    responses(
        (status = 200, description = "Success", body = Envelope<RerollKeyResponseData>),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Unknown root key", body = ErrorEnvelope),
        (status = 403, description = "Missing permission", body = ErrorEnvelope),
        (status = 404, description = "Not found in this workspace", body = ErrorEnvelope),
        (status = 500, description = "Internal error; the log has the cause under the request id", body = ErrorEnvelope),
    )
)]
pub async fn reroll_key(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<RerollKeyRequest>,
) -> ApiResult<Data<RerollKeyResponseData>> {
    service::keys::reroll_key(&app, &caller, request)
        .await
        .map(Data)
}
