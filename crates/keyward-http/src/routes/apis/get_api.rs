//! `POST /v2/apis.getApi`

use axum::extract::State;
use keyward_types::apis::{GetApiRequest, GetApiResponseData};
use keyward_types::{Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Data;
use crate::service;

/// Get an API
///
/// Reads an API's name and delete protection. Needs `api.*.read_api` or `api.<apiId>.read_api`.
#[utoipa::path(
    post,
    path = "/v2/apis.getApi",
    tag = "apis",
    operation_id = "apis.getApi",
    request_body = GetApiRequest,
    security(("rootKey" = [])),
    responses(
        (status = 200, description = "Success", body = Envelope<GetApiResponseData>),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Unknown root key", body = ErrorEnvelope),
        (status = 403, description = "Missing permission", body = ErrorEnvelope),
        (status = 404, description = "Not found in this workspace", body = ErrorEnvelope),
        (status = 500, description = "Internal error; the log has the cause under the request id", body = ErrorEnvelope),
    )
)]
pub async fn get_api(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<GetApiRequest>,
) -> ApiResult<Data<GetApiResponseData>> {
    service::apis::get_api(&app, &caller, request)
        .await
        .map(Data)
}
