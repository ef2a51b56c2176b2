//! `keyward api audit-logs …` (keyward extension)

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum AuditLogsCommand {
    /// List audit events, newest first: who created, changed or deleted what.
    /// Needs `auditlog.*.read_audit_log`.
    #[command(after_help = "Examples:
  keyward api audit-logs list-logs --output=table
  keyward api audit-logs list-logs --event=key.delete --limit=20
  keyward api audit-logs list-logs --target-id=key_1234abcd --since=1767225600000")]
    ListLogs(ListLogsArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListLogsArgs {
    /// Continue after the previous page: pass its `pagination.cursor`. Example: --cursor=log_01J2X3Y4Z5
    #[arg(long)]
    pub cursor: Option<String>,
    /// Events per page, 1 to 100 (default 100). Example: --limit=20
    #[arg(long)]
    pub limit: Option<i64>,
    /// Only this event. Example: --event=key.delete
    #[arg(long)]
    pub event: Option<String>,
    /// Only events that touched this resource id. Example: --target-id=key_1234abcd
    #[arg(long)]
    pub target_id: Option<String>,
    /// Only events at or after this time, unix milliseconds. Example: --since=1767225600000
    #[arg(long, value_name = "UNIX_MS")]
    pub since: Option<i64>,
    /// Only events before this time, unix milliseconds. Example: --until=1769904000000
    #[arg(long, value_name = "UNIX_MS")]
    pub until: Option<i64>,
}
