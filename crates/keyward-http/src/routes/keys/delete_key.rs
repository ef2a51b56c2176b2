//! `POST /v2/keys.deleteKey`

use axum::extract::State;
use keyward_types::keys::DeleteKeyRequest;
use keyward_types::{Empty, Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Data;
use crate::service;

/// Delete a key
///
/// Deletes a key: verifications answer `NOT_FOUND` from the moment this returns. Soft by default (the record stays for audit); `permanent: true` erases it and its hash. Needs `delete_key` on its API.
#[utoipa::path(
    post,
    path = "/v2/keys.deleteKey",
    tag = "keys",
    operation_id = "keys.deleteKey",
    request_body = DeleteKeyRequest,
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
pub async fn delete_key(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<DeleteKeyRequest>,
) -> ApiResult<Data<Empty>> {
    service::keys::delete_key(&app, &caller, request)
        .await
        .map(Data)
}
