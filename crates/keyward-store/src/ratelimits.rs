//! Rate limits: `ratelimit_namespaces` and their `ratelimit_overrides` (the standalone limiter),
//! `ratelimits` (limits of keys and identities), and `ratelimit_counters` (the limiter's
//! checkpoint), and `ratelimit_windows` (the counts of the shared engine). The counting itself
//! happens in keyward-core's `ratelimit`.

use crate::{AsConn, StoreResult, on_conn, rows_affected};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NamespaceRecord {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub created_at: i64,
}

/// The live namespace of `workspace_id` whose id is `name_or_id`, or else whose name is.
pub async fn find_namespace(
    c: &mut impl AsConn,
    workspace_id: &str,
    name_or_id: &str,
) -> StoreResult<Option<NamespaceRecord>> {
    on_conn!(c, |conn| {
        sqlx::query_as(
            "select id, workspace_id, name, created_at from ratelimit_namespaces \
             where workspace_id = $1 and (id = $2 or name = $2) and deleted_at is null \
             order by case when id = $2 then 0 else 1 end limit 1",
        )
        .bind(workspace_id)
        .bind(name_or_id)
        .fetch_optional(conn)
        .await
    })
}

/// Inserts `namespace` unless a live one of its workspace has its name; whether it did.
pub async fn insert_namespace(
    c: &mut impl AsConn,
    namespace: &NamespaceRecord,
) -> StoreResult<bool> {
    let inserted = on_conn!(c, |conn| {
        sqlx::query(
            "insert into ratelimit_namespaces (id, workspace_id, name, created_at) \
             values ($1, $2, $3, $4) \
             on conflict (workspace_id, name) where deleted_at is null do nothing",
        )
        .bind(&namespace.id)
        .bind(&namespace.workspace_id)
        .bind(&namespace.name)
        .bind(namespace.created_at)
        .execute(conn)
        .await
        .map(rows_affected)
    })?;
    Ok(inserted == 1)
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OverrideRecord {
    pub id: String,
    pub namespace_id: String,
    /// An identifier, or a pattern with `*` wildcards.
    pub identifier: String,
    pub max_requests: i64,
    pub duration: i64,
    pub created_at: i64,
}

const OVERRIDE_COLUMNS: &str = "id, namespace_id, identifier, max_requests, duration, created_at";

/// The live overrides of `namespace_id`, oldest first (the order wildcards are tried in).
pub async fn overrides_of(
    c: &mut impl AsConn,
    namespace_id: &str,
) -> StoreResult<Vec<OverrideRecord>> {
    on_conn!(c, |conn| {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select {OVERRIDE_COLUMNS} from ratelimit_overrides \
             where namespace_id = $1 and deleted_at is null order by created_at, id"
        )))
        .bind(namespace_id)
        .fetch_all(conn)
        .await
    })
}

/// Sets the override of `record.identifier` in its namespace: inserts it, or updates the live one
/// in place. Returns the override's id (the existing one's on an update).
pub async fn upsert_override(
    c: &mut impl AsConn,
    workspace_id: &str,
    record: &OverrideRecord,
) -> StoreResult<String> {
    let (id,): (String,) = on_conn!(c, |conn| {
        sqlx::query_as(
            "insert into ratelimit_overrides \
             (id, workspace_id, namespace_id, identifier, max_requests, duration, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7) \
             on conflict (namespace_id, identifier) where deleted_at is null \
             do update set max_requests = excluded.max_requests, duration = excluded.duration, \
             updated_at = excluded.created_at \
             returning id",
        )
        .bind(&record.id)
        .bind(workspace_id)
        .bind(&record.namespace_id)
        .bind(&record.identifier)
        .bind(record.max_requests)
        .bind(record.duration)
        .bind(record.created_at)
        .fetch_one(conn)
        .await
    })?;
    Ok(id)
}

/// The live override of `namespace_id` whose identifier is exactly `identifier`.
pub async fn find_override(
    c: &mut impl AsConn,
    namespace_id: &str,
    identifier: &str,
) -> StoreResult<Option<OverrideRecord>> {
    on_conn!(c, |conn| {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select {OVERRIDE_COLUMNS} from ratelimit_overrides \
             where namespace_id = $1 and identifier = $2 and deleted_at is null"
        )))
        .bind(namespace_id)
        .bind(identifier)
        .fetch_optional(conn)
        .await
    })
}

/// One page of the live overrides of `namespace_id` in id order after `after`.
pub async fn list_overrides(
    c: &mut impl AsConn,
    namespace_id: &str,
    after: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<OverrideRecord>> {
    on_conn!(c, |conn| {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select {OVERRIDE_COLUMNS} from ratelimit_overrides \
             where namespace_id = $1 and deleted_at is null and ($2 is null or id > $2) \
             order by id limit $3"
        )))
        .bind(namespace_id)
        .bind(after)
        .bind(limit)
        .fetch_all(conn)
        .await
    })
}

pub async fn soft_delete_override(c: &mut impl AsConn, id: &str, now: i64) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query("update ratelimit_overrides set deleted_at = $2, updated_at = $2 where id = $1")
            .bind(id)
            .bind(now)
            .execute(conn)
            .await
            .map(rows_affected)
    })?;
    Ok(())
}

/// Whose limits: a key's or an identity's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner<'a> {
    Key(&'a str),
    Identity(&'a str),
}

/// A limit of a key or an identity.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LimitRecord {
    pub id: String,
    pub key_id: Option<String>,
    pub identity_id: Option<String>,
    pub name: String,
    pub max_requests: i64,
    pub duration: i64,
    pub auto_apply: bool,
}

const LIMIT_COLUMNS: &str = "id, key_id, identity_id, name, max_requests, duration, auto_apply";

/// The limits of `key_id` and, if given, of `identity_id`, in name order.
pub async fn limits_for_verification(
    c: &mut impl AsConn,
    key_id: &str,
    identity_id: Option<&str>,
) -> StoreResult<Vec<LimitRecord>> {
    on_conn!(c, |conn| {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select {LIMIT_COLUMNS} from ratelimits \
             where key_id = $1 or ($2 is not null and identity_id = $2) order by name, id"
        )))
        .bind(key_id)
        .bind(identity_id)
        .fetch_all(conn)
        .await
    })
}

/// The limits of `owners` (all keys, or all identities), in name order.
pub async fn limits_of(c: &mut impl AsConn, owners: &[Owner<'_>]) -> StoreResult<Vec<LimitRecord>> {
    let mut all = Vec::new();
    for owner in owners {
        let (column, id) = match owner {
            Owner::Key(id) => ("key_id", *id),
            Owner::Identity(id) => ("identity_id", *id),
        };
        let rows: Vec<LimitRecord> = on_conn!(c, |conn| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "select {LIMIT_COLUMNS} from ratelimits where {column} = $1 order by name, id"
            )))
            .bind(id)
            .fetch_all(conn)
            .await
        })?;
        all.extend(rows);
    }
    Ok(all)
}

/// A limit to give a key or an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLimit {
    /// Used when the owner has no limit of this name yet.
    pub id: String,
    pub name: String,
    pub max_requests: i64,
    pub duration: i64,
    pub auto_apply: bool,
}

/// Makes `limits` the limits of `owner`, by name: limits of other names are deleted, those of a
/// name it has are updated in place (keeping their ids, and with them their counts), new names
/// inserted.
pub async fn replace_limits(
    c: &mut impl AsConn,
    workspace_id: &str,
    owner: Owner<'_>,
    limits: &[NewLimit],
    now: i64,
) -> StoreResult<()> {
    let existing = limits_of(c, &[owner]).await?;
    for old in existing
        .iter()
        .filter(|old| limits.iter().all(|l| l.name != old.name))
    {
        on_conn!(c, |conn| {
            sqlx::query("delete from ratelimits where id = $1")
                .bind(&old.id)
                .execute(conn)
                .await
                .map(rows_affected)
        })?;
    }
    let (key_id, identity_id) = match owner {
        Owner::Key(id) => (Some(id), None),
        Owner::Identity(id) => (None, Some(id)),
    };
    for limit in limits {
        match existing.iter().find(|old| old.name == limit.name) {
            Some(old) => on_conn!(c, |conn| {
                sqlx::query(
                    "update ratelimits set max_requests = $2, duration = $3, auto_apply = $4, \
                     updated_at = $5 where id = $1",
                )
                .bind(&old.id)
                .bind(limit.max_requests)
                .bind(limit.duration)
                .bind(limit.auto_apply)
                .bind(now)
                .execute(conn)
                .await
                .map(rows_affected)
            })?,
            None => on_conn!(c, |conn| {
                sqlx::query(
                    "insert into ratelimits (id, workspace_id, key_id, identity_id, name, \
                     max_requests, duration, auto_apply, created_at) \
                     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&limit.id)
                .bind(workspace_id)
                .bind(key_id)
                .bind(identity_id)
                .bind(&limit.name)
                .bind(limit.max_requests)
                .bind(limit.duration)
                .bind(limit.auto_apply)
                .bind(now)
                .execute(conn)
                .await
                .map(rows_affected)
            })?,
        };
    }
    Ok(())
}

/// A counter of the limiter's checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CounterRow {
    pub scope: String,
    pub identifier: String,
    pub duration: i64,
    pub sequence: i64,
    pub current_count: i64,
    pub previous_count: i64,
}

/// Replaces the checkpoint with `counters`.
pub async fn replace_counters(c: &mut impl AsConn, counters: &[CounterRow]) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query("delete from ratelimit_counters")
            .execute(conn)
            .await
            .map(rows_affected)
    })?;
    for row in counters {
        on_conn!(c, |conn| {
            sqlx::query(
                "insert into ratelimit_counters \
                 (scope, identifier, duration, sequence, current_count, previous_count) \
                 values ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&row.scope)
            .bind(&row.identifier)
            .bind(row.duration)
            .bind(row.sequence)
            .bind(row.current_count)
            .bind(row.previous_count)
            .execute(conn)
            .await
            .map(rows_affected)
        })?;
    }
    Ok(())
}

/// The checkpoint's counters.
pub async fn counters(c: &mut impl AsConn) -> StoreResult<Vec<CounterRow>> {
    on_conn!(c, |conn| {
        sqlx::query_as(
            "select scope, identifier, duration, sequence, current_count, previous_count \
             from ratelimit_counters",
        )
        .fetch_all(conn)
        .await
    })
}

/// A window of a counter of the shared engine (`ratelimit_windows`).
#[derive(Debug, Clone, Copy)]
pub struct WindowKey<'a> {
    pub scope: &'a str,
    pub identifier: &'a str,
    pub duration: i64,
    pub sequence: i64,
}

/// One decision of one check, in one statement: reads the previous window's count, weighs it
/// by `weight` (the fraction of it still inside the sliding window, computed by the caller in
/// `f64`; the product is truncated in the database exactly as in memory) and adds `cost` to
/// the current window if the effective count plus `cost` stays within `limit`. Concurrent
/// decisions on one counter serialize on its current window's row (`on conflict do update`
/// re-checks the condition on the latest count, under the row's lock), so the limit is exact
/// whatever the number of nodes. The effective count after the charge if it was admitted;
/// `None` if not (nothing changed).
pub async fn charge_window(
    c: &mut impl AsConn,
    window: WindowKey<'_>,
    weight: f64,
    cost: i64,
    limit: i64,
) -> StoreResult<Option<i64>> {
    // The previous window's count, weighed; then the conditional insert-or-increment.
    // The same statement on both backends but for how the previous window's weighted count is
    // rounded down: `$round_down_open`, the count, `$round_down_close`.
    macro_rules! admit {
        ($round_down_open:literal, $round_down_close:literal) => {
            concat!(
                "with weighted as (select ",
                $round_down_open,
                "coalesce((select count from ratelimit_windows \
                 where scope = $1 and identifier = $2 and duration = $3 and sequence = $4 - 1), 0)",
                $round_down_close,
                " as w) \
                 insert into ratelimit_windows as rw \
                   (scope, identifier, duration, sequence, count, expires_at) \
                 select $1, $2, $3, $4, $6, ($4 + 2) * $3 from weighted where $6 + w <= $7 \
                 on conflict (scope, identifier, duration, sequence) do update \
                   set count = rw.count + excluded.count \
                   where rw.count + excluded.count + (select w from weighted) <= $7 \
                 returning count + (select w from weighted)"
            )
        };
    }
    const POSTGRES: &str = admit!("floor(", " * $5::float8)::int8");
    const SQLITE: &str = admit!("cast(", " * $5 as integer)");
    on_conn!(
        c,
        sqlite | conn | {
            sqlx::query_scalar(SQLITE)
                .bind(window.scope)
                .bind(window.identifier)
                .bind(window.duration)
                .bind(window.sequence)
                .bind(weight)
                .bind(cost)
                .bind(limit)
                .fetch_optional(conn)
                .await
        },
        postgres | conn | {
            sqlx::query_scalar(POSTGRES)
                .bind(window.scope)
                .bind(window.identifier)
                .bind(window.duration)
                .bind(window.sequence)
                .bind(weight)
                .bind(cost)
                .bind(limit)
                .fetch_optional(conn)
                .await
        },
    )
}

/// Locks the current window of a counter (creating it empty) until the transaction ends;
/// (its count, the previous window's count). A decision over several checks locks its
/// counters in one order, so two such decisions never wait on each other in a cycle.
pub async fn lock_window(c: &mut impl AsConn, window: WindowKey<'_>) -> StoreResult<(i64, i64)> {
    on_conn!(c, |conn| {
        sqlx::query_as(
            "insert into ratelimit_windows as rw \
               (scope, identifier, duration, sequence, count, expires_at) \
             values ($1, $2, $3, $4, 0, ($4 + 2) * $3) \
             on conflict (scope, identifier, duration, sequence) do update set count = rw.count \
             returning count, coalesce((select p.count from ratelimit_windows p \
               where p.scope = $1 and p.identifier = $2 and p.duration = $3 \
               and p.sequence = $4 - 1), 0)",
        )
        .bind(window.scope)
        .bind(window.identifier)
        .bind(window.duration)
        .bind(window.sequence)
        .fetch_one(conn)
        .await
    })
}

/// Adds `delta` (negative: a refund) to a window's count, never below 0; a window that is
/// gone (expired and deleted) is left so.
pub async fn add_to_window(
    c: &mut impl AsConn,
    window: WindowKey<'_>,
    delta: i64,
) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query(
            "update ratelimit_windows \
             set count = case when count + $5 < 0 then 0 else count + $5 end \
             where scope = $1 and identifier = $2 and duration = $3 and sequence = $4",
        )
        .bind(window.scope)
        .bind(window.identifier)
        .bind(window.duration)
        .bind(window.sequence)
        .bind(delta)
        .execute(conn)
        .await
        .map(rows_affected)
    })?;
    Ok(())
}

/// Deletes up to `most` windows that weigh nothing at `now` any more; how many.
pub async fn delete_expired_windows(c: &mut impl AsConn, now: i64, most: i64) -> StoreResult<u64> {
    on_conn!(c, |conn| {
        sqlx::query(
            "delete from ratelimit_windows where (scope, identifier, duration, sequence) in \
             (select scope, identifier, duration, sequence from ratelimit_windows \
              where expires_at <= $1 limit $2)",
        )
        .bind(now)
        .bind(most)
        .execute(conn)
        .await
        .map(rows_affected)
    })
}

/// How many windows the shared engine holds.
pub async fn window_count(c: &mut impl AsConn) -> StoreResult<i64> {
    on_conn!(c, |conn| {
        sqlx::query_scalar("select count(*) from ratelimit_windows")
            .fetch_one(conn)
            .await
    })
}
