//! `workspaces`: isolated tenants.

use crate::{AsConn, StoreResult, on_conn, rows_affected};

pub async fn insert(c: &mut impl AsConn, id: &str, name: &str, now: i64) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query("insert into workspaces (id, name, created_at) values ($1, $2, $3)")
            .bind(id)
            .bind(name)
            .bind(now)
            .execute(conn)
            .await
            .map(rows_affected)
    })?;
    Ok(())
}

/// Whether no workspace exists yet (a fresh database, due for bootstrap).
pub async fn none_exist(c: &mut impl AsConn) -> StoreResult<bool> {
    let row: Option<(String,)> = on_conn!(c, |conn| {
        sqlx::query_as("select id from workspaces limit 1")
            .fetch_optional(conn)
            .await
    })?;
    Ok(row.is_none())
}
