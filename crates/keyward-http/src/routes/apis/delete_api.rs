//! `POST /v2/apis.deleteApi`

use axum::extract::State;
use keyward_types::apis::DeleteApiRequest;
use keyward_types::{Empty, Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Data;
use crate::service;

/// Delete an API
///
/// Deletes an API namespace: every key in it fails verification with `NOT_FOUND` from the moment this returns. Refused with 412 while delete protection is on. Needs `api.*.delete_api` or `api.<apiId>.delete_api`.
#[utoipa::path(
    post,
    path = "/v2/apis.deleteApi",
    tag = "apis",
    operation_id = "apis.deleteApi",
    request_body = DeleteApiRequest,
    security(("rootKey" = [])),
    responses(
        (status = 200, description = "Success", body = Envelope<Empty>),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Unknown root key", body = ErrorEnvelope),
        (status = 403, description = "Missing permission", body = ErrorEnvelope),
        (status = 404, description = "Not found in this workspace", body = ErrorEnvelope),
        (status = 412, description = "Precondition failed", body = ErrorEnvelope),
        (status = 500, description = "Internal error; the log has the cause under the request id", body = ErrorEnvelope),
    )
)]
pub async fn delete_api(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<DeleteApiRequest>,
) -> ApiResult<Data<Empty>> {
    service::apis::delete_api(&app, &caller, request)
        .await
        .map(Data)
}
