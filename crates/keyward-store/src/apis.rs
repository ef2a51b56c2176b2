//! `apis`: namespaces of keys.

use crate::patch::{Changes, Value};
use crate::{AsConn, StoreResult, on_conn, rows_affected};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiRecord {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub delete_protection: bool,
    pub created_at: i64,
}

pub async fn insert(c: &mut impl AsConn, api: &ApiRecord) -> StoreResult<()> {
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
        .map(rows_affected)
    })?;
    Ok(())
}

/// The API `id` of `workspace_id`, unless deleted.
pub async fn find_live(
    c: &mut impl AsConn,
    workspace_id: &str,
    id: &str,
) -> StoreResult<Option<ApiRecord>> {
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

/// The API `id` of `workspace_id`, also when deleted (soft): what a permanent delete erases.
/// Locks its row until the transaction ends.
pub async fn find_stored_for_update(
    c: &mut impl AsConn,
    workspace_id: &str,
    id: &str,
) -> StoreResult<Option<ApiRecord>> {
    on_conn!(
        c,
        // SQLite has no row locks: the transaction took the database's write lock at `begin`.
        sqlite
            | conn
            | sqlx::query_as(
                "select id, workspace_id, name, delete_protection, created_at from apis \
                 where id = $1 and workspace_id = $2",
            )
            .bind(id)
            .bind(workspace_id)
            .fetch_optional(conn)
            .await,
        postgres
            | conn
            | sqlx::query_as(
                "select id, workspace_id, name, delete_protection, created_at from apis \
                 where id = $1 and workspace_id = $2 for update",
            )
            .bind(id)
            .bind(workspace_id)
            .fetch_optional(conn)
            .await,
    )
}

/// The changeable fields of an API; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiPatch {
    pub name: Option<String>,
    pub delete_protection: Option<bool>,
}

/// Writes the fields `patch` changes, and only those.
pub async fn update(c: &mut impl AsConn, id: &str, patch: &ApiPatch, now: i64) -> StoreResult<()> {
    let mut changes = Changes::default();
    if let Some(name) = &patch.name {
        changes.set("name", Value::Text(Some(name.clone())));
    }
    if let Some(delete_protection) = patch.delete_protection {
        changes.set("delete_protection", Value::Bool(delete_protection));
    }
    changes.set("updated_at", Value::Int(Some(now)));
    changes.apply(c, "apis", id).await?;
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
            .map(rows_affected)
    })?;
    Ok(())
}

/// Erases the API's row; its keys must be erased first ([`crate::keys::hard_delete_all_of_api`]).
/// Audit events naming it are kept.
pub async fn hard_delete(c: &mut impl AsConn, id: &str) -> StoreResult<()> {
    on_conn!(c, |conn| sqlx::query("delete from apis where id = $1")
        .bind(id)
        .execute(conn)
        .await
        .map(rows_affected))?;
    Ok(())
}
