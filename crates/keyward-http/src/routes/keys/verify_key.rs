//! `POST /v2/keys.verifyKey`

use axum::extract::State;
use keyward_types::keys::{VerifyKeyRequest, VerifyKeyResponseData};
use keyward_types::{Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Data;
use crate::verify;

/// Verify a key
///
/// Checks a key and spends its credits. Every outcome is HTTP 200 with a `code`; a root key without `verify_key` on the key's API sees `NOT_FOUND`.
#[utoipa::path(
    post,
    path = "/v2/keys.verifyKey",
    tag = "keys",
    operation_id = "keys.verifyKey",
    request_body = VerifyKeyRequest,
    security(("rootKey" = [])),
    responses(
        (status = 200, description = "Success", body = Envelope<VerifyKeyResponseData>),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Unknown root key", body = ErrorEnvelope),
        (status = 412, description = "Precondition failed", body = ErrorEnvelope),
        (status = 500, description = "Internal error; the log has the cause under the request id", body = ErrorEnvelope),
    )
)]
pub async fn verify_key(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<VerifyKeyRequest>,
) -> ApiResult<Data<verify::Verification>> {
    verify::verify_key(&app, &caller, request).await.map(Data)
}
