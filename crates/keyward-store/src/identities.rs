//! `identities`: your users or customers, named by your own `external_id`.

use crate::{AsConn, StoreResult, on_conn};

/// The id of the identity `external_id` in `workspace_id`, created if it does not exist yet.
pub async fn upsert(
    c: &mut impl AsConn,
    new_id: &str,
    workspace_id: &str,
    external_id: &str,
    now: i64,
) -> StoreResult<String> {
    let (id,): (String,) = on_conn!(c, |conn| {
        // `do update` (a no-op) rather than `do nothing`, so `returning` yields the existing row.
        sqlx::query_as(
            "insert into identities (id, workspace_id, external_id, created_at) values ($1, $2, $3, $4) \
             on conflict (workspace_id, external_id) do update set external_id = excluded.external_id \
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

/// The id of the identity `external_id` in `workspace_id`, if any.
pub async fn find_id(
    c: &mut impl AsConn,
    workspace_id: &str,
    external_id: &str,
) -> StoreResult<Option<String>> {
    let row: Option<(String,)> = on_conn!(c, |conn| {
        sqlx::query_as("select id from identities where workspace_id = $1 and external_id = $2")
            .bind(workspace_id)
            .bind(external_id)
            .fetch_optional(conn)
            .await
    })?;
    Ok(row.map(|(id,)| id))
}
