//! `POST /v2/apis.createApi`

use axum::extract::State;
use keyward_types::apis::{CreateApiRequest, CreateApiResponseData};
use keyward_types::{Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Data;
use crate::service;

/// Create an API
///
/// Creates an API: a namespace that holds keys. Needs `api.*.create_api`.
#[utoipa::path(
    post,
    path = "/v2/apis.createApi",
    tag = "apis",
    operation_id = "apis.createApi",
    request_body = CreateApiRequest,
    security(("rootKey" = [])),
    responses(
        (status = 200, description = "Success", body = Envelope<CreateApiResponseData>),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Unknown root key", body = ErrorEnvelope),
        (status = 403, description = "Missing permission", body = ErrorEnvelope),
        (status = 500, description = "Internal error; the log has the cause under the request id", body = ErrorEnvelope),
    )
)]
pub async fn create_api(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<CreateApiRequest>,
) -> ApiResult<Data<CreateApiResponseData>> {
    service::apis::create_api(&app, &caller, request)
        .await
        .map(Data)
}
