//! `POST /v2/apis.updateApi`

use axum::extract::State;
use keyward_types::apis::UpdateApiRequest;
use keyward_types::{Empty, Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Data;
use crate::service;

/// Update an API (keyward extension)
///
/// Renames an API or switches its delete protection. Needs `api.*.update_api` or `api.<apiId>.update_api`.
#[utoipa::path(
    post,
    path = "/v2/apis.updateApi",
    tag = "apis",
    operation_id = "apis.updateApi",
    request_body = UpdateApiRequest,
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
pub async fn update_api(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<UpdateApiRequest>,
) -> ApiResult<Data<Empty>> {
    service::apis::update_api(&app, &caller, request)
        .await
        .map(Data)
}
