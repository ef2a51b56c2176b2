//! `POST /v2/workspaces.createWorkspace`

use axum::extract::State;
use keyward_types::workspaces::{CreateWorkspaceRequest, CreateWorkspaceResponseData};
use keyward_types::{Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Data;
use crate::service;

/// Create a workspace (keyward extension)
///
/// Creates an isolated workspace and a root key for it. Needs the instance-level `workspace.*.create_workspace`.
#[utoipa::path(
    post,
    path = "/v2/workspaces.createWorkspace",
    tag = "workspaces",
    operation_id = "workspaces.createWorkspace",
    request_body = CreateWorkspaceRequest,
    security(("rootKey" = [])),
    responses(
        (status = 200, description = "Success", body = Envelope<CreateWorkspaceResponseData>),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Unknown root key", body = ErrorEnvelope),
        (status = 403, description = "Missing permission", body = ErrorEnvelope),
        (status = 500, description = "Internal error; the log has the cause under the request id", body = ErrorEnvelope),
    )
)]
pub async fn create_workspace(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<CreateWorkspaceRequest>,
) -> ApiResult<Data<CreateWorkspaceResponseData>> {
    service::workspaces::create_workspace(&app, &caller, request)
        .await
        .map(Data)
}
