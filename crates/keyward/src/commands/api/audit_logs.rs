//! `keyward api audit-logs …`

use keyward_types::audit_logs::ListLogsRequest;
use keyward_types::operations as op;

use super::Ctx;
use crate::args::api::audit_logs::AuditLogsCommand;
use crate::error::CliResult;
use crate::output::{Column, col, time_col};

const LOG_COLUMNS: &[Column] = &[
    time_col("TIME", "/time"),
    col("EVENT", "/event"),
    col("DESCRIPTION", "/description"),
    col("ACTOR", "/actor/id"),
    col("REQUEST ID", "/requestId"),
];

pub async fn run(ctx: &Ctx, command: AuditLogsCommand) -> CliResult {
    match command {
        AuditLogsCommand::ListLogs(a) => {
            let request = ListLogsRequest {
                cursor: a.cursor,
                limit: a.limit,
                event: a.event,
                target_id: a.target_id,
                since: a.since,
                until: a.until,
            };
            ctx.call::<op::ListLogs>(&request, LOG_COLUMNS).await
        }
    }
}
