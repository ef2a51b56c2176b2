//! `POST /v2/auditLogs.listLogs`

use axum::extract::State;
use keyward_types::audit_logs::{AuditLog, ListLogsRequest};
use keyward_types::{Envelope, ErrorEnvelope};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::http::extract::Body;
use crate::http::respond::Page;
use crate::service;

/// List audit logs (keyward extension)
///
/// Lists the workspace's audit events, newest first. Needs `auditlog.*.read_audit_log`.
#[utoipa::path(
    post,
    path = "/v2/auditLogs.listLogs",
    tag = "auditLogs",
    operation_id = "auditLogs.listLogs",
    request_body = ListLogsRequest,
    security(("rootKey" = [])),
    responses(
        (status = 200, description = "Success", body = Envelope<Vec<AuditLog>>),
        (status = 400, description = "Invalid request", body = ErrorEnvelope),
        (status = 401, description = "Unknown root key", body = ErrorEnvelope),
        (status = 403, description = "Missing permission", body = ErrorEnvelope),
        (status = 500, description = "Internal error; the log has the cause under the request id", body = ErrorEnvelope),
    )
)]
pub async fn list_logs(
    State(app): State<AppState>,
    caller: Caller,
    Body(request): Body<ListLogsRequest>,
) -> ApiResult<Page<AuditLog>> {
    service::audit_logs::list_logs(&app, &caller, request)
        .await
        .map(Page::from)
}
