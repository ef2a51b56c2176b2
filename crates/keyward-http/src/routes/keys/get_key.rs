//! `POST /v2/keys.getKey`

use axum::extract::State;
use keyward_types::keys::{GetKeyRequest, KeyResponseData};
use keyward_types::{Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Data;
use crate::service;

/// Get a key
///
/// Reads a key's settings by id. Needs `read_key` on its API.
#[utoipa::path(
    post,
    path = "/v2/keys.getKey",
    tag = "keys",
    operation_id = "keys.getKey",
    request_body = GetKeyRequest,
    security(("rootKey" = [])),
    responses(
        (status = 200, description = "Success", body = Envelope<KeyResponseData>),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Unknown root key", body = ErrorEnvelope),
        (status = 403, description = "Missing permission", body = ErrorEnvelope),
        (status = 404, description = "Not found in this workspace", body = ErrorEnvelope),
        (status = 412, description = "Precondition failed", body = ErrorEnvelope),
        (status = 500, description = "Internal error; the log has the cause under the request id", body = ErrorEnvelope),
    )
)]
pub async fn get_key(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<GetKeyRequest>,
) -> ApiResult<Data<KeyResponseData>> {
    service::keys::get_key(&app, &caller, request)
        .await
        .map(Data)
}
