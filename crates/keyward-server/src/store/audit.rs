//! `audit_logs`: one row per audited change, written inside the change's own transaction.

use sqlx::AssertSqlSafe;

use super::{AsConn, StoreResult, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: String,
    pub workspace_id: String,
    pub time: i64,
    pub event: String,
    pub description: String,
    pub actor_type: String,
    pub actor_id: String,
    pub actor_name: Option<String>,
    pub remote_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// JSON array of targets.
    pub targets: String,
}

/// Inserts the event and indexes its targets for `targetId` filtering.
pub async fn insert(c: &mut impl AsConn, row: &AuditRow, target_ids: &[&str]) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query(
            "insert into audit_logs (id, workspace_id, time, event, description, actor_type, actor_id, \
             actor_name, remote_ip, user_agent, request_id, targets) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&row.id)
        .bind(&row.workspace_id)
        .bind(row.time)
        .bind(&row.event)
        .bind(&row.description)
        .bind(&row.actor_type)
        .bind(&row.actor_id)
        .bind(&row.actor_name)
        .bind(&row.remote_ip)
        .bind(&row.user_agent)
        .bind(&row.request_id)
        .bind(&row.targets)
        .execute(&mut *conn)
        .await?;
        if target_ids.is_empty() {
            return Ok(());
        }
        // One statement for all targets: every statement is a round trip to the connection's
        // thread, which is what bounds the rate of writes (docs/BENCHMARKS.md).
        let mut query =
            sqlx::query(AssertSqlSafe(insert_targets_sql(target_ids.len()))).bind(&row.id);
        for target_id in target_ids {
            query = query.bind(*target_id);
        }
        query.execute(&mut *conn).await?;
        Ok(())
    })
}

/// Filters of [`list`]; every field narrows the result.
#[derive(Debug, Default)]
pub struct AuditFilter<'a> {
    pub event: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Only events older than this id (the previous page's last).
    pub before: Option<&'a str>,
}

/// A page of a workspace's events, newest first.
pub async fn list(
    c: &mut impl AsConn,
    workspace_id: &str,
    filter: &AuditFilter<'_>,
    limit: i64,
) -> StoreResult<Vec<AuditRow>> {
    on_conn!(c, |conn| {
        sqlx::query_as(
            "select id, workspace_id, time, event, description, actor_type, actor_id, actor_name, \
             remote_ip, user_agent, request_id, targets from audit_logs l \
             where workspace_id = $1 \
             and ($2 is null or event = $2) \
             and ($3 is null or exists (select 1 from audit_log_targets t \
                                        where t.log_id = l.id and t.target_id = $3)) \
             and ($4 is null or time >= $4) \
             and ($5 is null or time < $5) \
             and ($6 is null or id < $6) \
             order by id desc limit $7",
        )
        .bind(workspace_id)
        .bind(filter.event)
        .bind(filter.target_id)
        .bind(filter.since)
        .bind(filter.until)
        .bind(filter.before)
        .bind(limit)
        .fetch_all(conn)
        .await
    })
}

/// `insert … values ($1, $2), ($1, $3), …` for `targets` target ids, `$1` being the event's id.
/// Built from placeholders only, never from data.
fn insert_targets_sql(targets: usize) -> String {
    let rows: Vec<String> = (2..targets + 2).map(|n| format!("($1, ${n})")).collect();
    format!(
        "insert into audit_log_targets (log_id, target_id) values {} on conflict do nothing",
        rows.join(", ")
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_row_of_placeholders_per_target() {
        assert_eq!(
            super::insert_targets_sql(2),
            "insert into audit_log_targets (log_id, target_id) values ($1, $2), ($1, $3) \
             on conflict do nothing"
        );
    }
}
