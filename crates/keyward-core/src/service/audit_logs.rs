//! `auditLogs.*` (keyward extension).

use keyward_types::Pagination;
use keyward_types::audit_logs::{AuditLog, ListLogsRequest};

use keyward_store::audit::{self as store, AuditFilter};
use keyward_types::permissions::{Action, Target};

use crate::Keyward;
use crate::audit;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::service::paginate;

pub async fn list_logs(
    keyward: &Keyward,
    caller: &Caller,
    req: ListLogsRequest,
) -> ApiResult<(Vec<AuditLog>, Pagination)> {
    caller.require(Action::ReadAuditLog, &Target::Workspace)?;
    let limit = req.limit.unwrap_or(100);
    let filter = AuditFilter {
        event: req.event.as_deref(),
        target_id: req.target_id.as_deref(),
        since: req.since,
        until: req.until,
        before: req.cursor.as_deref(),
    };
    let rows = store::list(
        &mut keyward.db.reader().await?,
        caller.workspace_id(),
        &filter,
        limit + 1,
    )
    .await?;
    let (rows, pagination) = paginate(rows, limit, |row| row.id.clone());
    Ok((rows.into_iter().map(audit::to_wire).collect(), pagination))
}
