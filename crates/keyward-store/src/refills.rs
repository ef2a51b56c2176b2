//! Credit refills: which balances have a refill, and claiming one period's refill of a balance.

use crate::{AsConn, StoreResult, on_conn, rows_affected};

/// A balance with a refill.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefillRecord {
    pub id: String,
    pub workspace_id: String,
    pub remaining: i64,
    pub refill_amount: i64,
    /// `None`: daily; 1..=31: monthly on that day.
    pub refill_day: Option<i64>,
    pub last_refill_at: Option<i64>,
    pub refill_since: Option<i64>,
}

/// One page, in id order after `after`, of the balances with a refill that at least one live key
/// spends from.
pub async fn with_refill(
    c: &mut impl AsConn,
    after: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<RefillRecord>> {
    on_conn!(c, |conn| {
        sqlx::query_as(
            "select c.id, c.workspace_id, c.remaining, c.refill_amount, c.refill_day, \
             c.last_refill_at, c.refill_since from credits c \
             where c.refill_amount is not null and c.remaining is not null \
             and ($1 is null or c.id > $1) \
             and exists (select 1 from keys k join apis a on a.id = k.api_id \
                         where k.credits_id = c.id and k.deleted_at is null and a.deleted_at is null) \
             order by c.id limit $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(conn)
        .await
    })
}

/// Refills balance `id` for the period that started at `period_start`, if it has not been
/// refilled (nor its refill configured) since, and its refill is still `day`'s: the balance
/// becomes the refill amount unless it holds more. One conditional statement, so of any number
/// of processes claiming the same period, exactly one succeeds. Returns the balance after, or
/// `None` when there was nothing to claim.
pub async fn claim(
    c: &mut impl AsConn,
    id: &str,
    day: Option<i64>,
    period_start: i64,
    now: i64,
) -> StoreResult<Option<i64>> {
    let row: Option<(i64,)> = on_conn!(c, |conn| {
        sqlx::query_as(
            "update credits set \
             remaining = case when remaining < refill_amount then refill_amount else remaining end, \
             last_refill_at = $4 \
             where id = $1 and refill_amount is not null and remaining is not null \
             and (refill_day = $2 or (refill_day is null and $2 is null)) \
             and (last_refill_at is null or last_refill_at < $3) \
             and (refill_since is null or refill_since < $3) \
             returning remaining",
        )
        .bind(id)
        .bind(day)
        .bind(period_start)
        .bind(now)
        .fetch_optional(conn)
        .await
    })?;
    Ok(row.map(|(remaining,)| remaining))
}

/// Records that the refill of balance `id` was (re)configured at `now`: it acts from the next
/// period on.
pub async fn configured(c: &mut impl AsConn, id: &str, now: i64) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query("update credits set refill_since = $2 where id = $1")
            .bind(id)
            .bind(now)
            .execute(conn)
            .await
            .map(rows_affected)
    })?;
    Ok(())
}

/// The live keys spending from balance `id`: (key id, name).
pub async fn keys_of(c: &mut impl AsConn, id: &str) -> StoreResult<Vec<(String, Option<String>)>> {
    on_conn!(c, |conn| {
        sqlx::query_as(
            "select id, name from keys where credits_id = $1 and deleted_at is null order by id",
        )
        .bind(id)
        .fetch_all(conn)
        .await
    })
}
