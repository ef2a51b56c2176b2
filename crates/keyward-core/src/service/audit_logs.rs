//! `auditLogs.*` (keyward extension).

use keyward_types::Pagination;
use keyward_types::audit_logs::{AuditLog, ListLogsRequest};

use crate::app::App;
use crate::audit;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::service::paginate;
use crate::store::{self, audit::AuditFilter};

pub async fn list_logs(
    app: &App,
    caller: &Caller,
    req: ListLogsRequest,
) -> ApiResult<(Vec<AuditLog>, Pagination)> {
    caller.require("auditlog.*.read_audit_log")?;
    let limit = req.limit.unwrap_or(100);
    let filter = AuditFilter {
        event: req.event.as_deref(),
        target_id: req.target_id.as_deref(),
        since: req.since,
        until: req.until,
        before: req.cursor.as_deref(),
    };
    let rows = store::audit::list(
        &mut app.db.reader().await?,
        caller.workspace_id(),
        &filter,
        limit + 1,
    )
    .await?;
    let (rows, pagination) = paginate(rows, limit, |row| row.id.clone());
    Ok((rows.into_iter().map(audit::to_wire).collect(), pagination))
}
