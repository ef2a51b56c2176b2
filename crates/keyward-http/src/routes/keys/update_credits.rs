//! `POST /v2/keys.updateCredits`

use axum::extract::State;
use keyward_types::keys::{KeyCredits, UpdateCreditsRequest};
use keyward_types::{Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Data;
use crate::service;

/// Change a key's credits
///
/// Sets, increments or decrements a key's credits atomically. Needs `update_key` on its API.
#[utoipa::path(
    post,
    path = "/v2/keys.updateCredits",
    tag = "keys",
    operation_id = "keys.updateCredits",
    request_body = UpdateCreditsRequest,
    security(("rootKey" = [])),
    responses(
        (status = 200, description = "Success", body = Envelope<KeyCredits>),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Unknown root key", body = ErrorEnvelope),
        (status = 403, description = "Missing permission", body = ErrorEnvelope),
        (status = 404, description = "Not found in this workspace", body = ErrorEnvelope),
        (status = 500, description = "Internal error; the log has the cause under the request id", body = ErrorEnvelope),
    )
)]
pub async fn update_credits(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<UpdateCreditsRequest>,
) -> ApiResult<Data<KeyCredits>> {
    service::keys::update_credits(&app, &caller, request)
        .await
        .map(Data)
}
