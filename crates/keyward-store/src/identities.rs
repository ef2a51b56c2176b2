//! `identities`: your users or customers, named by your own `external_id`.
//!
//! Deleting an identity is soft (`deleted_at`), and its `external_id` is unique among live
//! identities only, so a new identity can take it at once. Every read here sees live identities.

use crate::patch::{Changes, Value};
use crate::{AsConn, StoreResult, on_conn, rows_affected};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IdentityRecord {
    pub id: String,
    pub workspace_id: String,
    pub external_id: String,
    /// JSON object text.
    pub meta: Option<String>,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

const COLUMNS: &str = "id, workspace_id, external_id, meta, created_at, updated_at";

/// Inserts `identity`; an `external_id` a live identity of the workspace has is a
/// [`crate::StoreError::Conflict`].
pub async fn insert(c: &mut impl AsConn, identity: &IdentityRecord) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query(
            "insert into identities (id, workspace_id, external_id, meta, created_at) \
             values ($1, $2, $3, $4, $5)",
        )
        .bind(&identity.id)
        .bind(&identity.workspace_id)
        .bind(&identity.external_id)
        .bind(&identity.meta)
        .bind(identity.created_at)
        .execute(conn)
        .await
        .map(rows_affected)
    })?;
    Ok(())
}

/// The id of the live identity `external_id` in `workspace_id`, created if there is none.
pub async fn upsert(
    c: &mut impl AsConn,
    new_id: &str,
    workspace_id: &str,
    external_id: &str,
    now: i64,
) -> StoreResult<String> {
    let (id,): (String,) = on_conn!(c, |conn| {
        // `do update` (a no-op) rather than `do nothing`, so `returning` yields the existing row.
        // The conflict target names the partial index of live identities.
        sqlx::query_as(
            "insert into identities (id, workspace_id, external_id, created_at) values ($1, $2, $3, $4) \
             on conflict (workspace_id, external_id) where deleted_at is null \
             do update set external_id = excluded.external_id \
             returning id",
        )
        .bind(new_id)
        .bind(workspace_id)
        .bind(external_id)
        .bind(now)
        .fetch_one(conn)
        .await
    })?;
    Ok(id)
}

/// The id of the live identity `external_id` in `workspace_id`, if any.
pub async fn find_id(
    c: &mut impl AsConn,
    workspace_id: &str,
    external_id: &str,
) -> StoreResult<Option<String>> {
    let row: Option<(String,)> = on_conn!(c, |conn| {
        sqlx::query_as(
            "select id from identities \
             where workspace_id = $1 and external_id = $2 and deleted_at is null",
        )
        .bind(workspace_id)
        .bind(external_id)
        .fetch_optional(conn)
        .await
    })?;
    Ok(row.map(|(id,)| id))
}

/// The live identity of `workspace_id` whose id is `id_or_external_id`, or else whose external
/// id is.
pub async fn find_live(
    c: &mut impl AsConn,
    workspace_id: &str,
    id_or_external_id: &str,
) -> StoreResult<Option<IdentityRecord>> {
    on_conn!(c, |conn| {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from identities \
             where workspace_id = $1 and (id = $2 or external_id = $2) and deleted_at is null \
             order by case when id = $2 then 0 else 1 end limit 1"
        )))
        .bind(workspace_id)
        .bind(id_or_external_id)
        .fetch_optional(conn)
        .await
    })
}

/// Like [`find_live`], locking the identity's row until the transaction ends.
pub async fn find_live_for_update(
    c: &mut impl AsConn,
    workspace_id: &str,
    id_or_external_id: &str,
) -> StoreResult<Option<IdentityRecord>> {
    let select = format!(
        "select {COLUMNS} from identities \
         where workspace_id = $1 and (id = $2 or external_id = $2) and deleted_at is null \
         order by case when id = $2 then 0 else 1 end limit 1"
    );
    on_conn!(
        c,
        // SQLite has no row locks: the transaction took the database's write lock at `begin`.
        sqlite
            | conn
            | sqlx::query_as(sqlx::AssertSqlSafe(select.clone()))
                .bind(workspace_id)
                .bind(id_or_external_id)
                .fetch_optional(conn)
                .await,
        postgres
            | conn
            | sqlx::query_as(sqlx::AssertSqlSafe(format!("{select} for update")))
                .bind(workspace_id)
                .bind(id_or_external_id)
                .fetch_optional(conn)
                .await,
    )
}

/// One page of the live identities of `workspace_id` in id order after `after`, optionally
/// those whose external id contains `search` (any case).
pub async fn list(
    c: &mut impl AsConn,
    workspace_id: &str,
    search: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<IdentityRecord>> {
    on_conn!(c, |conn| {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from identities where workspace_id = $1 and deleted_at is null \
             and ($2 is null or lower(external_id) like $2 escape '\\') \
             and ($3 is null or id > $3) order by id limit $4"
        )))
        .bind(workspace_id)
        .bind(search.map(crate::rbac::contains_pattern))
        .bind(after)
        .bind(limit)
        .fetch_all(conn)
        .await
    })
}

/// Replaces the identity's meta (JSON object text; `None` removes it).
pub async fn set_meta(
    c: &mut impl AsConn,
    id: &str,
    meta: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    let mut changes = Changes::default();
    changes.set("meta", Value::Text(meta.map(str::to_owned)));
    changes.set("updated_at", Value::Int(Some(now)));
    changes.apply(c, "identities", id).await?;
    Ok(())
}

/// Marks the identity deleted and detaches every key from it (the keys keep working, without
/// an identity). Returns how many keys were detached.
pub async fn soft_delete(c: &mut impl AsConn, id: &str, now: i64) -> StoreResult<u64> {
    on_conn!(c, |conn| {
        sqlx::query("update identities set deleted_at = $2, updated_at = $2 where id = $1")
            .bind(id)
            .bind(now)
            .execute(conn)
            .await
            .map(rows_affected)
    })?;
    on_conn!(c, |conn| {
        sqlx::query("update keys set identity_id = null where identity_id = $1")
            .bind(id)
            .execute(conn)
            .await
            .map(rows_affected)
    })
}
