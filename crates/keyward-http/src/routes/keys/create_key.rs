//! `POST /v2/keys.createKey`

use axum::extract::State;
use keyward_types::keys::{CreateKeyRequest, CreateKeyResponseData};
use keyward_types::{Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Data;
use crate::service;

/// Create a key
///
/// Issues a key. The plaintext is in this response only; keyward stores its SHA-256. Needs `api.*.create_key` or `api.<apiId>.create_key`.
#[utoipa::path(
    post,
    path = "/v2/keys.createKey",
    tag = "keys",
    operation_id = "keys.createKey",
    request_body = CreateKeyRequest,
    security(("rootKey" = [])),
    responses(
        (status = 200, description = "Success", body = Envelope<CreateKeyResponseData>),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Unknown root key", body = ErrorEnvelope),
        (status = 403, description = "Missing permission", body = ErrorEnvelope),
        (status = 404, description = "Not found in this workspace", body = ErrorEnvelope),
        (status = 412, description = "Precondition failed", body = ErrorEnvelope),
        (status = 500, description = "Internal error; the log has the cause under the request id", body = ErrorEnvelope),
    )
)]
pub async fn create_key(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<CreateKeyRequest>,
) -> ApiResult<Data<CreateKeyResponseData>> {
    service::keys::create_key(&app, &caller, request)
        .await
        .map(Data)
}
