//! `POST /v2/apis.listKeys`

use axum::extract::State;
use keyward_types::apis::ListKeysRequest;
use keyward_types::keys::KeyResponseData;
use keyward_types::{Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Page;
use crate::service;

/// List an API's keys
///
/// Lists the live keys of an API, optionally of one `externalId`, with cursor pagination. Needs `read_key` and `read_api` on the API.
#[utoipa::path(
    post,
    path = "/v2/apis.listKeys",
    tag = "apis",
    operation_id = "apis.listKeys",
    request_body = ListKeysRequest,
    security(("rootKey" = [])),
    responses(
        (status = 200, description = "Success", body = Envelope<Vec<KeyResponseData>>),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Unknown root key", body = ErrorEnvelope),
        (status = 403, description = "Missing permission", body = ErrorEnvelope),
        (status = 404, description = "Not found in this workspace", body = ErrorEnvelope),
        (status = 412, description = "Precondition failed", body = ErrorEnvelope),
        (status = 500, description = "Internal error; the log has the cause under the request id", body = ErrorEnvelope),
    )
)]
pub async fn list_keys(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<ListKeysRequest>,
) -> ApiResult<Page<KeyResponseData>> {
    service::apis::list_keys(&app, &caller, request)
        .await
        .map(Page::from)
}
