//! `root_keys`: keys that authorize calls to keyward's own API, scoped to one workspace.

use crate::{AsConn, StoreResult, on_conn, rows_affected};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RootKeyRecord {
    pub id: String,
    pub workspace_id: String,
    pub hash: Vec<u8>,
    pub start: String,
    pub name: Option<String>,
    /// JSON array of permission strings.
    pub permissions: String,
    pub created_at: i64,
}

pub async fn insert(c: &mut impl AsConn, k: &RootKeyRecord) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query(
            "insert into root_keys (id, workspace_id, hash, start, name, permissions, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&k.id)
        .bind(&k.workspace_id)
        .bind(&k.hash)
        .bind(&k.start)
        .bind(&k.name)
        .bind(&k.permissions)
        .bind(k.created_at)
        .execute(conn)
        .await
        .map(rows_affected)
    })?;
    Ok(())
}

/// The live root key with this hash.
pub async fn find_live_by_hash(
    c: &mut impl AsConn,
    hash: &[u8],
) -> StoreResult<Option<RootKeyRecord>> {
    on_conn!(c, |conn| {
        sqlx::query_as(
            "select id, workspace_id, hash, start, name, permissions, created_at from root_keys \
             where hash = $1 and deleted_at is null",
        )
        .bind(hash)
        .fetch_optional(conn)
        .await
    })
}

pub async fn find_live(
    c: &mut impl AsConn,
    workspace_id: &str,
    id: &str,
) -> StoreResult<Option<RootKeyRecord>> {
    on_conn!(c, |conn| {
        sqlx::query_as(
            "select id, workspace_id, hash, start, name, permissions, created_at from root_keys \
             where id = $1 and workspace_id = $2 and deleted_at is null",
        )
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(conn)
        .await
    })
}

pub async fn list(
    c: &mut impl AsConn,
    workspace_id: &str,
    after: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<RootKeyRecord>> {
    on_conn!(c, |conn| {
        sqlx::query_as(
            "select id, workspace_id, hash, start, name, permissions, created_at from root_keys \
             where workspace_id = $1 and deleted_at is null and ($2 is null or id > $2) \
             order by id limit $3",
        )
        .bind(workspace_id)
        .bind(after)
        .bind(limit)
        .fetch_all(conn)
        .await
    })
}

pub async fn soft_delete(c: &mut impl AsConn, id: &str, now: i64) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query("update root_keys set deleted_at = $2 where id = $1")
            .bind(id)
            .bind(now)
            .execute(conn)
            .await
            .map(rows_affected)
    })?;
    Ok(())
}
