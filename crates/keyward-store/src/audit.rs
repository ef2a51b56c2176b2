//! `audit_logs`: one row per audited change, written inside the change's own transaction.

use sqlx::AssertSqlSafe;

use crate::{AsConn, BackendKind, StoreResult, column, on_conn, placeholder_rows, rows_affected};

/// An event as stored and listed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRecord {
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

/// An event to insert: the record, and the ids of its targets for `targetId` filtering.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub record: AuditRecord,
    pub target_ids: Vec<String>,
}

/// Inserts `events` and indexes their targets: two statements however many events there are
/// (every statement is a round trip to the connection's thread, which is what bounds the rate of
/// writes: docs/BENCHMARKS.md). On PostgreSQL each statement takes one array per column
/// (`unnest`), so its text does not change with the batch's size (see `keys::insert_many`).
pub async fn insert(c: &mut impl AsConn, events: &[NewAuditEvent]) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let targets: usize = events.iter().map(|e| e.target_ids.len()).sum();
    on_conn!(
        c,
        sqlite | conn | {
            let sql = insert_events_sql(BackendKind::Sqlite, events.len());
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for NewAuditEvent { record: r, .. } in events {
                query = query
                    .bind(&r.id)
                    .bind(&r.workspace_id)
                    .bind(r.time)
                    .bind(&r.event)
                    .bind(&r.description)
                    .bind(&r.actor_type)
                    .bind(&r.actor_id)
                    .bind(&r.actor_name)
                    .bind(&r.remote_ip)
                    .bind(&r.user_agent)
                    .bind(&r.request_id)
                    .bind(&r.targets);
            }
            query.execute(&mut *conn).await.map(rows_affected)?;
            if targets > 0 {
                let sql = insert_targets_sql(BackendKind::Sqlite, targets);
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for event in events {
                    for target_id in &event.target_ids {
                        query = query.bind(&event.record.id).bind(target_id);
                    }
                }
                query.execute(&mut *conn).await.map(rows_affected)?;
            }
            Ok::<(), sqlx::Error>(())
        },
        postgres | conn | {
            sqlx::query(
                "insert into audit_logs (id, workspace_id, time, event, description, actor_type, \
                 actor_id, actor_name, remote_ip, user_agent, request_id, targets) \
                 select * from unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], \
                 $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], \
                 $12::text[])",
            )
            .bind(column(events, |e| e.record.id.as_str()))
            .bind(column(events, |e| e.record.workspace_id.as_str()))
            .bind(column(events, |e| e.record.time))
            .bind(column(events, |e| e.record.event.as_str()))
            .bind(column(events, |e| e.record.description.as_str()))
            .bind(column(events, |e| e.record.actor_type.as_str()))
            .bind(column(events, |e| e.record.actor_id.as_str()))
            .bind(column(events, |e| e.record.actor_name.as_deref()))
            .bind(column(events, |e| e.record.remote_ip.as_deref()))
            .bind(column(events, |e| e.record.user_agent.as_deref()))
            .bind(column(events, |e| e.record.request_id.as_deref()))
            .bind(column(events, |e| e.record.targets.as_str()))
            .execute(&mut *conn)
            .await
            .map(rows_affected)?;
            if targets > 0 {
                let (logs, ids): (Vec<&str>, Vec<&str>) = events
                    .iter()
                    .flat_map(|e| {
                        e.target_ids
                            .iter()
                            .map(|target| (e.record.id.as_str(), target.as_str()))
                    })
                    .unzip();
                sqlx::query(
                    "insert into audit_log_targets (log_id, target_id) \
                     select * from unnest($1::text[], $2::text[]) on conflict do nothing",
                )
                .bind(logs)
                .bind(ids)
                .execute(&mut *conn)
                .await
                .map(rows_affected)?;
            }
            Ok::<(), sqlx::Error>(())
        },
    )
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
) -> StoreResult<Vec<AuditRecord>> {
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

/// `insert into audit_logs … values (…), (…), …` for `events` events.
fn insert_events_sql(backend: BackendKind, events: usize) -> String {
    format!(
        "insert into audit_logs (id, workspace_id, time, event, description, actor_type, actor_id, \
         actor_name, remote_ip, user_agent, request_id, targets) values {}",
        placeholder_rows(backend, events, 12)
    )
}

/// `insert into audit_log_targets … values (…), …` for `targets` (event id, target id) pairs.
fn insert_targets_sql(backend: BackendKind, targets: usize) -> String {
    format!(
        "insert into audit_log_targets (log_id, target_id) values {} on conflict do nothing",
        placeholder_rows(backend, targets, 2)
    )
}

#[cfg(test)]
mod tests {
    use crate::BackendKind;

    #[test]
    fn one_row_of_placeholders_per_target() {
        assert_eq!(
            super::insert_targets_sql(BackendKind::Postgres, 2),
            "insert into audit_log_targets (log_id, target_id) values ($1, $2), ($3, $4) \
             on conflict do nothing"
        );
    }

    #[test]
    fn one_row_of_placeholders_per_event() {
        let sql = super::insert_events_sql(BackendKind::Postgres, 2);
        assert!(sql.ends_with(
            "values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12), \
             ($13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"
        ));
    }
}
