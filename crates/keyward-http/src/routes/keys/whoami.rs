//! `POST /v2/keys.whoami`

use axum::extract::State;
use keyward_types::keys::{KeyResponseData, WhoamiRequest};
use keyward_types::{Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Data;
use crate::service;

/// Identify a key
///
/// Reads a key's settings from the key itself. Lacking `read_key` answers 404, like an unknown key.
#[utoipa::path(
    post,
    path = "/v2/keys.whoami",
    tag = "keys",
    operation_id = "keys.whoami",
    request_body = WhoamiRequest,
    security(("rootKey" = [])),
    responses(
        (status = 200, description = "Success", body = Envelope<KeyResponseData>),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Unknown root key", body = ErrorEnvelope),
        (status = 404, description = "Not found in this workspace", body = ErrorEnvelope),
        (status = 500, description = "Internal error; the log has the cause under the request id", body = ErrorEnvelope),
    )
)]
pub async fn whoami(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<WhoamiRequest>,
) -> ApiResult<Data<KeyResponseData>> {
    service::keys::whoami(&app, &caller, request)
        .await
        .map(Data)
}
