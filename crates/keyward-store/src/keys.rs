//! `keys`: the keys you issue to your customers, stored only by hash.

use sqlx::AssertSqlSafe;

use crate::patch::{Changes, Value};
use crate::{
    AsConn, BackendKind, StoreError, StoreResult, Tx, backend_of, column, on_conn,
    placeholder_rows, rows_affected,
};

/// A key with its identity, as every read returns it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRecord {
    pub id: String,
    pub workspace_id: String,
    pub api_id: String,
    pub hash: Vec<u8>,
    pub start: String,
    pub byte_length: i64,
    pub name: Option<String>,
    pub identity_id: Option<String>,
    pub identity_external_id: Option<String>,
    pub identity_meta: Option<String>,
    /// JSON object text.
    pub meta: Option<String>,
    pub enabled: bool,
    pub expires_at: Option<i64>,
    /// The balance this key spends from, shared by every generation of the key (a reroll hands
    /// it on). `remaining`, `refill_amount` and `refill_day` are read from it.
    pub credits_id: String,
    pub remaining: Option<i64>,
    pub refill_amount: Option<i64>,
    pub refill_day: Option<i64>,
    /// When the balance was last refilled (`refills::claim`).
    pub last_refill_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    /// As last flushed to the database (keyward-core keeps the fresher in-memory mark).
    pub last_used_at: Option<i64>,
}

impl KeyRecord {
    /// The key's identity, if it is live: a deleted identity is not joined (its externalId is
    /// then absent), and neither it nor its limits apply.
    pub fn live_identity_id(&self) -> Option<&str> {
        self.identity_external_id
            .as_ref()
            .and(self.identity_id.as_deref())
    }
}

/// Selects [`KeyRecord`]s, deleted or not; append `and …` conditions.
macro_rules! select_keys {
    ($($condition:literal),*) => {
        concat!(
            "select k.id, k.workspace_id, k.api_id, k.hash, k.start, k.byte_length, k.name, \
             k.identity_id, i.external_id as identity_external_id, i.meta as identity_meta, \
             k.meta, k.enabled, k.expires_at, k.credits_id, c.remaining, c.refill_amount, \
             c.refill_day, c.last_refill_at, k.created_at, k.updated_at, k.last_used_at \
             from keys k join apis a on a.id = k.api_id \
             join credits c on c.id = k.credits_id \
             left join identities i on i.id = k.identity_id and i.deleted_at is null \
             where true ",
            $($condition, " ",)*
        )
    };
}

/// Selects [`KeyRecord`]s of live keys (not deleted, in a live API); append `and …` conditions.
macro_rules! select_live_keys {
    ($($condition:literal),*) => {
        select_keys!("and k.deleted_at is null and a.deleted_at is null", $($condition),*)
    };
}

/// A key to insert.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub id: String,
    pub workspace_id: String,
    pub api_id: String,
    pub hash: Vec<u8>,
    pub start: String,
    pub byte_length: i64,
    pub name: Option<String>,
    pub identity_id: Option<String>,
    /// JSON object text.
    pub meta: Option<String>,
    pub enabled: bool,
    pub expires_at: Option<i64>,
    /// The balance the key spends from: a new one ([`insert_credits`]) or, for a rerolled key,
    /// its predecessor's.
    pub credits_id: String,
    pub created_at: i64,
}

pub async fn insert(c: &mut impl AsConn, k: &NewKey) -> StoreResult<()> {
    insert_many(c, std::slice::from_ref(k)).await
}

/// Inserts `keys` in one statement (a batch of `keys.createKey`s: docs/ARCHITECTURE.md, group
/// commit). On SQLite a `values` list, at most a few hundred rows at a time (13 bound parameters
/// each); on PostgreSQL one array per column (`unnest`), so the statement's text is the same
/// whatever the batch's size and is parsed and planned once per connection rather than once per
/// size.
pub async fn insert_many(c: &mut impl AsConn, keys: &[NewKey]) -> StoreResult<()> {
    if keys.is_empty() {
        return Ok(());
    }
    on_conn!(
        c,
        sqlite | conn | {
            let rows = placeholder_rows(BackendKind::Sqlite, keys.len(), 13);
            let mut query = sqlx::query(AssertSqlSafe(format!("{INSERT_KEY} values {rows}")));
            for k in keys {
                query = query
                    .bind(&k.id)
                    .bind(&k.workspace_id)
                    .bind(&k.api_id)
                    .bind(&k.hash)
                    .bind(&k.start)
                    .bind(k.byte_length)
                    .bind(&k.name)
                    .bind(&k.identity_id)
                    .bind(&k.meta)
                    .bind(k.enabled)
                    .bind(k.expires_at)
                    .bind(&k.credits_id)
                    .bind(k.created_at);
            }
            query.execute(conn).await.map(rows_affected)
        },
        postgres | conn | {
            sqlx::query(AssertSqlSafe(format!(
                "{INSERT_KEY} select * from unnest($1::text[], $2::text[], $3::text[], \
                 $4::bytea[], $5::text[], $6::int8[], $7::text[], $8::text[], $9::text[], \
                 $10::bool[], $11::int8[], $12::text[], $13::int8[])"
            )))
            .bind(column(keys, |k| k.id.as_str()))
            .bind(column(keys, |k| k.workspace_id.as_str()))
            .bind(column(keys, |k| k.api_id.as_str()))
            .bind(column(keys, |k| k.hash.as_slice()))
            .bind(column(keys, |k| k.start.as_str()))
            .bind(column(keys, |k| k.byte_length))
            .bind(column(keys, |k| k.name.as_deref()))
            .bind(column(keys, |k| k.identity_id.as_deref()))
            .bind(column(keys, |k| k.meta.as_deref()))
            .bind(column(keys, |k| k.enabled))
            .bind(column(keys, |k| k.expires_at))
            .bind(column(keys, |k| k.credits_id.as_str()))
            .bind(column(keys, |k| k.created_at))
            .execute(conn)
            .await
            .map(rows_affected)
        },
    )?;
    Ok(())
}

const INSERT_KEY: &str = "insert into keys (id, workspace_id, api_id, hash, start, byte_length, \
    name, identity_id, meta, enabled, expires_at, credits_id, created_at)";

/// A new balance: `remaining` credits (`None`: unlimited) and a refill.
#[derive(Debug, Clone)]
pub struct NewCredits {
    pub id: String,
    pub workspace_id: String,
    pub remaining: Option<i64>,
    pub refill_amount: Option<i64>,
    pub refill_day: Option<i64>,
}

pub async fn insert_credits(c: &mut impl AsConn, credits: &NewCredits) -> StoreResult<()> {
    insert_credits_many(c, std::slice::from_ref(credits)).await
}

/// Inserts `balances` in one statement (see [`insert_many`]: arrays on PostgreSQL).
pub async fn insert_credits_many(c: &mut impl AsConn, balances: &[NewCredits]) -> StoreResult<()> {
    if balances.is_empty() {
        return Ok(());
    }
    const INSERT: &str =
        "insert into credits (id, workspace_id, remaining, refill_amount, refill_day)";
    on_conn!(
        c,
        sqlite | conn | {
            let rows = placeholder_rows(BackendKind::Sqlite, balances.len(), 5);
            let mut query = sqlx::query(AssertSqlSafe(format!("{INSERT} values {rows}")));
            for credits in balances {
                query = query
                    .bind(&credits.id)
                    .bind(&credits.workspace_id)
                    .bind(credits.remaining)
                    .bind(credits.refill_amount)
                    .bind(credits.refill_day);
            }
            query.execute(conn).await.map(rows_affected)
        },
        postgres | conn | {
            sqlx::query(AssertSqlSafe(format!(
                "{INSERT} select * from unnest($1::text[], $2::text[], $3::int8[], $4::int8[], \
                 $5::int8[])"
            )))
            .bind(column(balances, |b| b.id.as_str()))
            .bind(column(balances, |b| b.workspace_id.as_str()))
            .bind(column(balances, |b| b.remaining))
            .bind(column(balances, |b| b.refill_amount))
            .bind(column(balances, |b| b.refill_day))
            .execute(conn)
            .await
            .map(rows_affected)
        },
    )?;
    Ok(())
}

/// The hashes of the live keys spending from the balance `credits_id` (the generations of one
/// key), whose cached records a change of that balance makes stale.
pub async fn hashes_sharing_credits(
    c: &mut impl AsConn,
    credits_id: &str,
) -> StoreResult<Vec<Vec<u8>>> {
    let rows: Vec<(Vec<u8>,)> = on_conn!(c, |conn| {
        sqlx::query_as("select hash from keys where credits_id = $1 and deleted_at is null")
            .bind(credits_id)
            .fetch_all(conn)
            .await
    })?;
    Ok(rows.into_iter().map(|(hash,)| hash).collect())
}

/// The live key `id` of `workspace_id`.
pub async fn find_live_by_id(
    c: &mut impl AsConn,
    workspace_id: &str,
    id: &str,
) -> StoreResult<Option<KeyRecord>> {
    Ok(on_conn!(c, |conn| {
        sqlx::query_as(select_live_keys!("and k.id = $1 and k.workspace_id = $2"))
            .bind(id)
            .bind(workspace_id)
            .fetch_optional(conn)
            .await
    })?)
}

/// Like [`find_live_by_id`], locking the key's row and its balance's until the transaction ends,
/// so that what the caller read stays true while it decides what to write (another generation of
/// the key shares the balance).
pub async fn find_live_by_id_for_update(
    c: &mut impl AsConn,
    workspace_id: &str,
    id: &str,
) -> StoreResult<Option<KeyRecord>> {
    const WHERE: &str = "and k.id = $1 and k.workspace_id = $2";
    Ok(on_conn!(
        c,
        // SQLite has no row locks: the transaction took the database's write lock at `begin`.
        sqlite
            | conn
            | sqlx::query_as(select_live_keys!("and k.id = $1 and k.workspace_id = $2"))
                .bind(id)
                .bind(workspace_id)
                .fetch_optional(conn)
                .await,
        postgres | conn | {
            let _ = WHERE;
            sqlx::query_as(select_live_keys!(
                "and k.id = $1 and k.workspace_id = $2",
                "for update of k, c"
            ))
            .bind(id)
            .bind(workspace_id)
            .fetch_optional(conn)
            .await
        },
    )?)
}

/// The key `id` of `workspace_id` as stored, also when it or its API was deleted (soft): what a
/// permanent delete erases. Locks its row until the transaction ends.
pub async fn find_stored_by_id_for_update(
    c: &mut impl AsConn,
    workspace_id: &str,
    id: &str,
) -> StoreResult<Option<KeyRecord>> {
    Ok(on_conn!(
        c,
        // SQLite has no row locks: the transaction took the database's write lock at `begin`.
        sqlite
            | conn
            | sqlx::query_as(select_keys!("and k.id = $1 and k.workspace_id = $2"))
                .bind(id)
                .bind(workspace_id)
                .fetch_optional(conn)
                .await,
        postgres
            | conn
            | sqlx::query_as(select_keys!(
                "and k.id = $1 and k.workspace_id = $2",
                "for update of k, c"
            ))
            .bind(id)
            .bind(workspace_id)
            .fetch_optional(conn)
            .await,
    )?)
}

/// The live key with this hash, in any workspace (the caller checks the workspace).
pub async fn find_live_by_hash(c: &mut impl AsConn, hash: &[u8]) -> StoreResult<Option<KeyRecord>> {
    Ok(on_conn!(c, |conn| {
        sqlx::query_as(select_live_keys!("and k.hash = $1"))
            .bind(hash)
            .fetch_optional(conn)
            .await
    })?)
}

/// One page of the live keys of `api_id`, optionally of one identity, in id order after `after`.
pub async fn list_by_api(
    c: &mut impl AsConn,
    api_id: &str,
    identity_id: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<KeyRecord>> {
    Ok(on_conn!(c, |conn| {
        sqlx::query_as(select_live_keys!(
            "and k.api_id = $1",
            "and ($2 is null or k.identity_id = $2)",
            "and ($3 is null or k.id > $3)",
            "order by k.id limit $4"
        ))
        .bind(api_id)
        .bind(identity_id)
        .bind(after)
        .bind(limit)
        .fetch_all(conn)
        .await
    })?)
}

/// The changeable fields of a key; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPatch {
    pub name: Option<Option<String>>,
    pub identity_id: Option<Option<String>>,
    /// JSON object text.
    pub meta: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub expires_at: Option<Option<i64>>,
}

impl KeyPatch {
    /// The columns this patch writes, `updated_at` included.
    pub fn changes(&self, now: i64) -> Changes {
        let mut changes = Changes::default();
        if let Some(name) = &self.name {
            changes.set("name", Value::Text(name.clone()));
        }
        if let Some(identity_id) = &self.identity_id {
            changes.set("identity_id", Value::Text(identity_id.clone()));
        }
        if let Some(meta) = &self.meta {
            changes.set("meta", Value::Text(meta.clone()));
        }
        if let Some(enabled) = self.enabled {
            changes.set("enabled", Value::Bool(enabled));
        }
        if let Some(expires_at) = self.expires_at {
            changes.set("expires_at", Value::Int(expires_at));
        }
        changes.set("updated_at", Value::Int(Some(now)));
        changes
    }
}

/// Writes the fields `patch` changes, and only those.
pub async fn update(c: &mut impl AsConn, id: &str, patch: &KeyPatch, now: i64) -> StoreResult<()> {
    patch.changes(now).apply(c, "keys", id).await?;
    Ok(())
}

/// The changeable settings of a balance; `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreditsPatch {
    /// `Some(None)`: unlimited.
    pub remaining: Option<Option<i64>>,
    /// `(amount, day)`: a day for monthly refills, `None` for daily ones.
    pub refill: Option<Option<(i64, Option<i64>)>>,
}

impl CreditsPatch {
    /// The columns this patch writes.
    pub fn changes(&self) -> Changes {
        let mut changes = Changes::default();
        if let Some(remaining) = self.remaining {
            changes.set("remaining", Value::Int(remaining));
        }
        if let Some(refill) = self.refill {
            changes.set(
                "refill_amount",
                Value::Int(refill.map(|(amount, _)| amount)),
            );
            changes.set("refill_day", Value::Int(refill.and_then(|(_, day)| day)));
        }
        changes
    }
}

/// Writes the settings `patch` changes of the balance `credits_id`, which every generation of the
/// key spends from.
pub async fn update_credits(
    c: &mut impl AsConn,
    credits_id: &str,
    patch: &CreditsPatch,
) -> StoreResult<()> {
    patch.changes().apply(c, "credits", credits_id).await?;
    Ok(())
}

/// Keys a [`record_last_used`] statement should write at most: ~0.6 ms of SQLite's time here, so
/// that other writers waiting for the connection between two statements never wait long.
pub const LAST_USED_BATCH: usize = 128;

/// Records when keys were last used, in one statement: each `(key id, unix ms)` moves the key's
/// `last_used_at` forward, never back (another node may have written a later time). Callers send
/// at most [`LAST_USED_BATCH`] keys at a time. Deleted keys are written too (their record is kept
/// for audit), and ids of erased keys match nothing.
pub async fn record_last_used(c: &mut impl AsConn, batch: &[(String, i64)]) -> StoreResult<()> {
    // `update … from (values …)`: SQLite 3.33+ and PostgreSQL both name the columns of a
    // `values` list column1, column2.
    let sql = format!(
        "update keys set last_used_at = v.column2 from (values {}) as v \
         where keys.id = v.column1 \
         and (keys.last_used_at is null or keys.last_used_at < v.column2)",
        placeholder_rows(backend_of(c), batch.len(), 2)
    );
    // Only placeholders are generated; every value is bound.
    on_conn!(c, |conn| {
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (id, at) in batch {
            query = query.bind(id).bind(*at);
        }
        query.execute(conn).await.map(rows_affected)
    })?;
    Ok(())
}

/// Keeps the record (and its hash, so the key can never be reissued) for audit.
pub async fn soft_delete(c: &mut impl AsConn, id: &str, now: i64) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query("update keys set deleted_at = $2, updated_at = $2 where id = $1")
            .bind(id)
            .bind(now)
            .execute(conn)
            .await
            .map(rows_affected)
    })?;
    Ok(())
}

/// Erases the row and its hash, and its balance unless another generation of the key still
/// spends from it. Audit events naming the key are kept.
pub async fn hard_delete(c: &mut impl AsConn, id: &str) -> StoreResult<()> {
    let credits_id: Option<(String,)> = on_conn!(c, |conn| {
        sqlx::query_as("delete from keys where id = $1 returning credits_id")
            .bind(id)
            .fetch_optional(conn)
            .await
    })?;
    if let Some((credits_id,)) = credits_id {
        on_conn!(c, |conn| {
            sqlx::query(
                "delete from credits where id = $1 \
                 and not exists (select 1 from keys where credits_id = $1)",
            )
            .bind(&credits_id)
            .execute(conn)
            .await
            .map(rows_affected)
        })?;
    }
    Ok(())
}

/// Erases every key of `api_id` of `workspace_id`, deleted or not, with their hashes and balances
/// (no balance is shared across APIs: a reroll keeps the API). Returns how many keys were erased.
/// Audit events naming them are kept.
pub async fn hard_delete_all_of_api(
    c: &mut impl AsConn,
    workspace_id: &str,
    api_id: &str,
) -> StoreResult<u64> {
    let erased = on_conn!(c, |conn| {
        sqlx::query("delete from keys where api_id = $1")
            .bind(api_id)
            .execute(conn)
            .await
            .map(rows_affected)
    })?;
    // The balances no key spends from any more: those of the keys just erased. Erasing an API is
    // rare, so one pass over the workspace's balances is a fair price for a single statement.
    on_conn!(c, |conn| {
        sqlx::query(
            "delete from credits where workspace_id = $1 \
             and not exists (select 1 from keys where keys.credits_id = credits.id)",
        )
        .bind(workspace_id)
        .execute(conn)
        .await
        .map(rows_affected)
    })?;
    Ok(erased)
}

/// Spends `cost` credits of the live key `id`'s balance if at least that many remain,
/// atomically: the check and the decrement are one statement. Returns the credits left, or
/// `None` when too few remain (nothing spent).
pub async fn spend_credits(c: &mut impl AsConn, id: &str, cost: i64) -> StoreResult<Option<i64>> {
    let row: Option<(i64,)> = on_conn!(c, |conn| {
        sqlx::query_as(
            "update credits set remaining = remaining - $2 \
             where id = (select credits_id from keys where id = $1 and deleted_at is null) \
             and remaining >= $2 returning remaining",
        )
        .bind(id)
        .bind(cost)
        .fetch_optional(conn)
        .await
    })?;
    Ok(row.map(|(remaining,)| remaining))
}

/// How a spend decided under the balance's lock ([`spend_credits_batch`]) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockedSpend {
    /// Spent; the credits left.
    Spent(i64),
    /// Too few: nothing spent; the balance the refusal was decided on.
    Refused(i64),
    /// The balance is unlimited (made so since the caller looked).
    Unlimited,
    /// No such live key.
    Gone,
}

/// Decides a batch of spends, `(live key id, cost)` in arrival order, in three statements however
/// many there are: the balances are read under their locks (PostgreSQL `for update`, in a fixed
/// order so concurrent batches cannot deadlock; SQLite's write lock, which `begin` took), so that
/// a refusal reports the very balance it refused (read outside the lock, it could show credits a
/// concurrent increment had just added); each spend is decided in order on the balance the
/// earlier ones left (an insufficient balance spends nothing for that request); and the balances
/// that changed are written back in one statement. A batch of one is the slow path of
/// [`spend_credits`], for when that single statement found too few credits.
pub async fn spend_credits_batch(
    tx: &mut Tx,
    spends: &[(&str, i64)],
) -> StoreResult<Vec<LockedSpend>> {
    use std::collections::HashMap;

    // `in ()` is no SQL PostgreSQL accepts.
    if spends.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<&str> = spends.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    let backend = backend_of(tx);
    let select = format!(
        "select k.id, c.id, c.remaining from keys k join credits c on c.id = k.credits_id \
         where k.deleted_at is null and k.id in {}",
        placeholder_rows(backend, 1, ids.len())
    );
    // Only placeholders are generated; every value is bound.
    let rows: Vec<(String, String, Option<i64>)> = on_conn!(
        tx,
        sqlite | conn | {
            let mut query = sqlx::query_as(AssertSqlSafe(select));
            for id in &ids {
                query = query.bind(*id);
            }
            query.fetch_all(conn).await
        },
        postgres | conn | {
            let mut query = sqlx::query_as(AssertSqlSafe(format!(
                "{select} order by c.id for update of c"
            )));
            for id in &ids {
                query = query.bind(*id);
            }
            query.fetch_all(conn).await
        },
    )?;
    let credits_of: HashMap<String, String> = rows
        .iter()
        .map(|(key, credits, _)| (key.clone(), credits.clone()))
        .collect();
    let mut balances: HashMap<String, Option<i64>> = rows
        .into_iter()
        .map(|(_, credits, remaining)| (credits, remaining))
        .collect();
    let mut changed = Vec::new();
    let outcomes = spends
        .iter()
        .map(|(key_id, cost)| {
            let Some(credits) = credits_of.get(*key_id) else {
                return LockedSpend::Gone;
            };
            match balances.get_mut(credits) {
                None => LockedSpend::Gone,
                Some(None) => LockedSpend::Unlimited,
                Some(Some(remaining)) if *remaining < *cost => LockedSpend::Refused(*remaining),
                Some(Some(remaining)) => {
                    *remaining -= cost;
                    changed.push(credits.as_str());
                    LockedSpend::Spent(*remaining)
                }
            }
        })
        .collect();
    changed.sort_unstable();
    changed.dedup();
    if !changed.is_empty() {
        // Both backends name the columns of a `values` list column1, column2.
        let update = format!(
            "update credits set remaining = v.column2 from (values {}) as v \
             where credits.id = v.column1",
            placeholder_rows(backend, changed.len(), 2)
        );
        on_conn!(tx, |conn| {
            let mut query = sqlx::query(AssertSqlSafe(update));
            for credits in &changed {
                query = query.bind(*credits).bind(balances[*credits]);
            }
            query.execute(conn).await.map(rows_affected)
        })?;
    }
    Ok(outcomes)
}

/// [`spend_credits_batch`] committed by itself, in as few statements as the backend allows:
/// one statement that commits on its own charges each balance that covers the batch's whole
/// draw on it (the usual case; then every spend of it succeeds whatever their order) that total
/// in one row update, and answers each of its spends with what the balance held right after it.
/// Only the spends of a balance the batch would overdraw (or that is unlimited, or whose key is
/// gone) are then decided one by one, in order: on PostgreSQL by `keyward_spend_credits`
/// (migration 0011), on SQLite by [`spend_credits_batch`] in a transaction. Either way the
/// spends are durable on return.
pub async fn spend_credits_committed(
    db: &crate::Db,
    spends: &[(&str, i64)],
) -> StoreResult<Vec<LockedSpend>> {
    if spends.is_empty() {
        return Ok(Vec::new());
    }
    if db.kind() == crate::BackendKind::Sqlite {
        return spend_on_sqlite(db, spends).await;
    }
    let mut conn = db.writer().await?;
    let crate::ConnRef::Postgres(conn) = crate::AsConn::conn(&mut conn) else {
        return Err(StoreError::Other(
            "a PostgreSQL database gave a SQLite connection".into(),
        ));
    };
    let mut outcomes = spend_on_postgres(conn, SPEND_COVERED, spends).await?;
    // The spends of the balances their batch would overdraw, in arrival order.
    let short: Vec<usize> = (0..spends.len())
        .filter(|&i| outcomes[i].is_none())
        .collect();
    if !short.is_empty() {
        let rest: Vec<(&str, i64)> = short.iter().map(|&i| spends[i]).collect();
        let decided = spend_on_postgres(conn, SPEND_EACH, &rest).await?;
        for (i, outcome) in short.into_iter().zip(decided) {
            outcomes[i] = outcome;
        }
    }
    outcomes
        .into_iter()
        .map(|outcome| {
            outcome.ok_or_else(|| {
                StoreError::Other("keyward_spend_credits left a spend undecided".into())
            })
        })
        .collect()
}

/// [`spend_credits_committed`] on SQLite. The first statement, in autocommit (this one writer
/// connection is the only writer, so nothing changes a balance between its read and its
/// update), charges the covered balances and names, per balance charged, its live keys (a
/// subquery over `keys_by_credits`: `RETURNING` cannot name the `FROM` clause's rows), which is
/// how each spend finds its balance. SQLite's `sum` fails on overflow, so a batch whose costs
/// add up past `i64::MAX` skips it.
async fn spend_on_sqlite(db: &crate::Db, spends: &[(&str, i64)]) -> StoreResult<Vec<LockedSpend>> {
    use std::collections::HashMap;

    let mut outcomes: Vec<Option<LockedSpend>> = vec![None; spends.len()];
    let summable = spends
        .iter()
        .try_fold(0i64, |sum, (_, cost)| sum.checked_add(*cost))
        .is_some();
    if summable {
        let update = format!(
            "update credits set remaining = remaining - t.total \
             from (select k.credits_id as id, sum(v.column2) as total \
                   from (values {}) as v join keys k on k.id = v.column1 and k.deleted_at is null \
                   group by k.credits_id) as t \
             where credits.id = t.id and credits.remaining >= t.total \
             returning credits.remaining, (select group_concat(k.id, ' ') from keys k \
                 where k.credits_id = credits.id and k.deleted_at is null)",
            placeholder_rows(crate::BackendKind::Sqlite, spends.len(), 2)
        );
        let mut conn = db.writer().await?;
        // Only placeholders are generated; every value is bound.
        let charged: Vec<(i64, String)> = on_conn!(&mut conn, |conn| {
            let mut query = sqlx::query_as(AssertSqlSafe(update));
            for (key_id, cost) in spends {
                query = query.bind(*key_id).bind(*cost);
            }
            query.fetch_all(conn).await
        })?;
        // Each charged balance, by its keys; walked backwards from what is left, each spend's
        // answer is what the later ones of its balance had to spend.
        let balance_of: HashMap<&str, usize> = charged
            .iter()
            .enumerate()
            .flat_map(|(balance, (_, keys))| keys.split(' ').map(move |key| (key, balance)))
            .collect();
        let mut held: Vec<i64> = charged.iter().map(|(left, _)| *left).collect();
        for (i, (key_id, cost)) in spends.iter().enumerate().rev() {
            if let Some(&balance) = balance_of.get(key_id) {
                outcomes[i] = Some(LockedSpend::Spent(held[balance]));
                held[balance] += cost;
            }
        }
    }
    let short: Vec<usize> = (0..spends.len())
        .filter(|&i| outcomes[i].is_none())
        .collect();
    if !short.is_empty() {
        let rest: Vec<(&str, i64)> = short.iter().map(|&i| spends[i]).collect();
        let mut tx = db.begin().await?;
        let decided = spend_credits_batch(&mut tx, &rest).await?;
        tx.commit().await?;
        for (i, outcome) in short.into_iter().zip(decided) {
            outcomes[i] = Some(outcome);
        }
    }
    Ok(outcomes.into_iter().flatten().collect())
}

/// A batch of spends in one statement on PostgreSQL, for the balances that cover the batch's
/// total for them: the spends are matched to their live keys' balances; the balances are locked
/// in id order (concurrent batches, on this node or another, cannot deadlock) and, under the
/// lock, read again; each that covers its total is charged it in one update; and each spend is
/// answered with what its balance held after it (what is left plus the later spends of the
/// batch; the sums are `numeric`, so costs near `i64::MAX` cannot overflow them). Outcomes as
/// `keyward_spend_credits`'s, and 4: this balance would be overdrawn, so
/// nothing of it was spent and its spends are decided one by one ([`SPEND_EACH`]).
const SPEND_COVERED: &str = "\
with spend as ( \
    select u.i, k.credits_id, u.cost \
    from unnest($1::text[], $2::bigint[]) with ordinality as u(key_id, cost, i) \
    left join keys k on k.id = u.key_id and k.deleted_at is null \
), wanted as ( \
    select credits_id as id, sum(cost) as total \
    from spend where credits_id is not null group by credits_id \
), locked as ( \
    select c.id, c.remaining from credits c \
    where c.id in (select id from wanted) order by c.id for update \
), spent as ( \
    update credits c set remaining = c.remaining - w.total \
    from locked l join wanted w on w.id = l.id \
    where c.id = l.id and l.remaining >= w.total \
    returning c.id, c.remaining \
) \
select s.i::int4, \
    (case when l.id is null then 3 when l.remaining is null then 2 \
          when p.id is not null then 0 else 4 end)::int2, \
    (p.remaining + coalesce(sum(s.cost) over (partition by s.credits_id order by s.i \
        rows between 1 following and unbounded following), 0))::bigint \
from spend s left join locked l on l.id = s.credits_id left join spent p on p.id = s.credits_id \
order by s.i";

/// Spends decided one by one, in order, each on what the earlier ones left (migration 0011).
const SPEND_EACH: &str = "select spend_index, outcome, balance \
    from keyward_spend_credits($1, $2) order by spend_index";

/// Runs one of the spend statements over `spends`: an outcome per spend, in order (`None`: left
/// to [`SPEND_EACH`]).
async fn spend_on_postgres(
    conn: &mut sqlx::PgConnection,
    statement: &'static str,
    spends: &[(&str, i64)],
) -> StoreResult<Vec<Option<LockedSpend>>> {
    let (ids, costs): (Vec<&str>, Vec<i64>) = spends.iter().copied().unzip();
    let rows: Vec<(i32, i16, Option<i64>)> = sqlx::query_as(statement)
        .bind(&ids)
        .bind(&costs)
        .fetch_all(conn)
        .await?;
    if rows.len() != spends.len() {
        return Err(StoreError::Other(format!(
            "a spend statement answered {} of {} spends",
            rows.len(),
            spends.len()
        )));
    }
    rows.into_iter()
        .map(|(_, outcome, balance)| match (outcome, balance) {
            (0, Some(left)) => Ok(Some(LockedSpend::Spent(left))),
            (1, Some(left)) => Ok(Some(LockedSpend::Refused(left))),
            (2, _) => Ok(Some(LockedSpend::Unlimited)),
            (3, _) => Ok(Some(LockedSpend::Gone)),
            (4, _) if statement == SPEND_COVERED => Ok(None),
            other => Err(StoreError::Other(format!(
                "a spend statement answered {other:?}"
            ))),
        })
        .collect()
}

/// The credits of a live key: `None` if there is no such key, `Some(None)` when unlimited.
pub async fn remaining(c: &mut impl AsConn, id: &str) -> StoreResult<Option<Option<i64>>> {
    let row: Option<(Option<i64>,)> = on_conn!(c, |conn| {
        sqlx::query_as(
            "select c.remaining from keys k join credits c on c.id = k.credits_id \
             where k.id = $1 and k.deleted_at is null",
        )
        .bind(id)
        .fetch_optional(conn)
        .await
    })?;
    Ok(row.map(|(remaining,)| remaining))
}

/// How `keys.updateCredits` changes a balance.
#[derive(Debug, Clone, Copy)]
pub enum CreditsChange {
    /// Set the balance; `None` makes it unlimited and removes any refill.
    Set(Option<i64>),
    /// Add, saturating at `max`.
    Increment { amount: i64, max: i64 },
    /// Subtract, flooring at 0.
    Decrement(i64),
}

/// The credit settings of a key after a change.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct CreditsRow {
    pub remaining: Option<i64>,
    pub refill_amount: Option<i64>,
    pub refill_day: Option<i64>,
}

/// Applies `change` to the balance of key `id` in one statement, so it composes with concurrent
/// credit spending, and marks the key updated. Increments and decrements only touch limited
/// balances; `None` means no balance matched.
pub async fn change_credits(
    c: &mut impl AsConn,
    id: &str,
    change: CreditsChange,
    now: i64,
) -> StoreResult<Option<CreditsRow>> {
    let changed: Option<CreditsRow> = on_conn!(c, |conn| {
        match change {
            CreditsChange::Set(value) => {
                sqlx::query_as(
                    "update credits set remaining = $2, \
                     refill_amount = case when $2 is null then null else refill_amount end, \
                     refill_day = case when $2 is null then null else refill_day end \
                     where id = (select credits_id from keys where id = $1) \
                     returning remaining, refill_amount, refill_day",
                )
                .bind(id)
                .bind(value)
                .fetch_optional(conn)
                .await
            }
            CreditsChange::Increment { amount, max } => {
                sqlx::query_as(
                    "update credits \
                     set remaining = case when remaining > $3 - $2 then $3 else remaining + $2 end \
                     where id = (select credits_id from keys where id = $1) and remaining is not null \
                     returning remaining, refill_amount, refill_day",
                )
                .bind(id)
                .bind(amount)
                .bind(max)
                .fetch_optional(conn)
                .await
            }
            CreditsChange::Decrement(amount) => {
                sqlx::query_as(
                    "update credits \
                     set remaining = case when remaining > $2 then remaining - $2 else 0 end \
                     where id = (select credits_id from keys where id = $1) and remaining is not null \
                     returning remaining, refill_amount, refill_day",
                )
                .bind(id)
                .bind(amount)
                .fetch_optional(conn)
                .await
            }
        }
    })?;
    if changed.is_some() {
        on_conn!(c, |conn| {
            sqlx::query("update keys set updated_at = $2 where id = $1")
                .bind(id)
                .bind(now)
                .execute(conn)
                .await
                .map(rows_affected)
        })?;
    }
    Ok(changed)
}
