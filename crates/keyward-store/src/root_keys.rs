//! `root_keys`: keys that authorize calls to keyward's own API, scoped to one workspace.

use sqlx::AssertSqlSafe;

use crate::patch::{Changes, Value};
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
    pub enabled: bool,
    pub expires_at: Option<i64>,
    pub updated_at: Option<i64>,
    /// When it last authenticated a request (to the minute).
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str = "id, workspace_id, hash, start, name, permissions, created_at, enabled, \
                       expires_at, updated_at, last_used_at";

pub async fn insert(c: &mut impl AsConn, k: &RootKeyRecord) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query(
            "insert into root_keys (id, workspace_id, hash, start, name, permissions, created_at, \
             enabled, expires_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&k.id)
        .bind(&k.workspace_id)
        .bind(&k.hash)
        .bind(&k.start)
        .bind(&k.name)
        .bind(&k.permissions)
        .bind(k.created_at)
        .bind(k.enabled)
        .bind(k.expires_at)
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
        sqlx::query_as(AssertSqlSafe(format!(
            "select {COLUMNS} from root_keys where hash = $1 and deleted_at is null"
        )))
        .bind(hash)
        .fetch_optional(conn)
        .await
    })
}

/// The live root key `id` of `workspace_id`, locked until the transaction ends.
pub async fn find_live(
    c: &mut impl AsConn,
    workspace_id: &str,
    id: &str,
) -> StoreResult<Option<RootKeyRecord>> {
    let select = format!(
        "select {COLUMNS} from root_keys where id = $1 and workspace_id = $2 and deleted_at is null"
    );
    on_conn!(
        c,
        // SQLite has no row locks: the transaction took the database's write lock at `begin`.
        sqlite
            | conn
            | sqlx::query_as(AssertSqlSafe(select.clone()))
                .bind(id)
                .bind(workspace_id)
                .fetch_optional(conn)
                .await,
        postgres
            | conn
            | sqlx::query_as(AssertSqlSafe(format!("{select} for update")))
                .bind(id)
                .bind(workspace_id)
                .fetch_optional(conn)
                .await,
    )
}

pub async fn list(
    c: &mut impl AsConn,
    workspace_id: &str,
    after: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<RootKeyRecord>> {
    on_conn!(c, |conn| {
        sqlx::query_as(AssertSqlSafe(format!(
            "select {COLUMNS} from root_keys \
             where workspace_id = $1 and deleted_at is null and ($2 is null or id > $2) \
             order by id limit $3"
        )))
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

/// The changeable fields of a root key; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootKeyPatch {
    pub name: Option<Option<String>>,
    pub enabled: Option<bool>,
    /// JSON array of permission strings.
    pub permissions: Option<String>,
    pub expires_at: Option<Option<i64>>,
}

/// Writes the fields `patch` changes, and only those.
pub async fn update(
    c: &mut impl AsConn,
    id: &str,
    patch: &RootKeyPatch,
    now: i64,
) -> StoreResult<()> {
    let mut changes = Changes::default();
    if let Some(name) = &patch.name {
        changes.set("name", Value::Text(name.clone()));
    }
    if let Some(enabled) = patch.enabled {
        changes.set("enabled", Value::Bool(enabled));
    }
    if let Some(permissions) = &patch.permissions {
        changes.set("permissions", Value::Text(Some(permissions.clone())));
    }
    if let Some(expires_at) = patch.expires_at {
        changes.set("expires_at", Value::Int(expires_at));
    }
    changes.set("updated_at", Value::Int(Some(now)));
    changes.apply(c, "root_keys", id).await?;
    Ok(())
}

/// Records that the root key authenticated a request at `at` (unix ms), moving
/// `last_used_at` only forward.
pub async fn record_last_used(c: &mut impl AsConn, id: &str, at: i64) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query(
            "update root_keys set last_used_at = $2 \
             where id = $1 and (last_used_at is null or last_used_at < $2)",
        )
        .bind(id)
        .bind(at)
        .execute(conn)
        .await
        .map(rows_affected)
    })?;
    Ok(())
}

/// Every live root key, in every workspace (for the upgrade of all-powerful keys at start).
pub async fn list_all_live(c: &mut impl AsConn) -> StoreResult<Vec<RootKeyRecord>> {
    on_conn!(c, |conn| {
        sqlx::query_as(AssertSqlSafe(format!(
            "select {COLUMNS} from root_keys where deleted_at is null order by id"
        )))
        .fetch_all(conn)
        .await
    })
}
