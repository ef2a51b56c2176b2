//! `POST /v2/keys.updateKey`

use axum::extract::State;
use keyward_types::keys::UpdateKeyRequest;
use keyward_types::{Empty, Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Data;
use crate::service;

/// Update a key
///
/// Changes a key. Absent fields stay, `null` clears. `enabled: false` disables the key (verifications answer `DISABLED`) from the moment this returns. Needs `update_key` on its API.
#[utoipa::path(
    post,
    path = "/v2/keys.updateKey",
    tag = "keys",
    operation_id = "keys.updateKey",
    request_body = UpdateKeyRequest,
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
pub async fn update_key(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<UpdateKeyRequest>,
) -> ApiResult<Data<Empty>> {
    service::keys::update_key(&app, &caller, request)
        .await
        .map(Data)
}
