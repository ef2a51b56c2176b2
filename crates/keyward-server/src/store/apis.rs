//! `apis`: namespaces of keys.

use super::{AsConn, StoreResult, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub delete_protection: bool,
    pub created_at: i64,
}

pub async fn insert(c: &mut impl AsConn, api: &ApiRow) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query(
            "insert into apis (id, workspace_id, name, delete_protection, created_at) \
             values ($1, $2, $3, $4, $5)",
        )
        .bind(&api.id)
        .bind(&api.workspace_id)
        .bind(&api.name)
        .bind(api.delete_protection)
        .bind(api.created_at)
        .execute(conn)
        .await
    })?;
    Ok(())
}

/// The API `id` of `workspace_id`, unless deleted.
pub async fn find_live(
    c: &mut impl AsConn,
    workspace_id: &str,
    id: &str,
) -> StoreResult<Option<ApiRow>> {
    on_conn!(c, |conn| {
        sqlx::query_as(
            "select id, workspace_id, name, delete_protection, created_at from apis \
             where id = $1 and workspace_id = $2 and deleted_at is null",
        )
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(conn)
        .await
    })
}

pub async fn update(
    c: &mut impl AsConn,
    id: &str,
    name: &str,
    delete_protection: bool,
    now: i64,
) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query(
            "update apis set name = $2, delete_protection = $3, updated_at = $4 where id = $1",
        )
        .bind(id)
        .bind(name)
        .bind(delete_protection)
        .bind(now)
        .execute(conn)
        .await
    })?;
    Ok(())
}

/// Marks the API deleted. Its keys stay in place (for audit) but every query for live keys
/// joins on a live API, so they stop verifying and disappear from key endpoints at once.
pub async fn soft_delete(c: &mut impl AsConn, id: &str, now: i64) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query("update apis set deleted_at = $2 where id = $1")
            .bind(id)
            .bind(now)
            .execute(conn)
            .await
    })?;
    Ok(())
}
