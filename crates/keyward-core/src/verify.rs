//! The verification hot path: `keys.verifyKey`.
//!
//! On a cache hit a verification of an unmetered key does no I/O at all: hash the key, probe the
//! cache, compare a few fields. Metered keys (finite credits) spend their credits with one
//! atomic `update … where remaining >= cost returning remaining`, so concurrent verifications can
//! never overspend, and a spend is durable once answered.
//!
//! Outcome order (Unkey's): NOT_FOUND (unknown, deleted, deleted API, another workspace, or a root
//! key without `verify_key` for the key's API — never revealing which), DISABLED, EXPIRED,
//! INSUFFICIENT_PERMISSIONS, RATE_LIMITED, USAGE_EXCEEDED, VALID. Every outcome is HTTP 200.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use keyward_types::ErrorCode;
use keyward_types::keys::{Identity, VerifyCode, VerifyKeyRequest, VerifyKeyResponseData};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use keyward_store::keys::{self, KeyRecord, LockedSpend};
use keyward_store::ratelimits::{self, LimitRecord};
use keyward_store::rbac;
use keyward_store::{Db, StoreResult};
use keyward_types::keys::RatelimitResponse;
use keyward_types::permissions::{Action, Target};

use crate::Keyward;
use crate::auth::Caller;
use crate::cache::LoadError;
use crate::error::{ApiError, ApiResult};
use crate::grants::{self, KeyGrants};
use crate::group_commit::{Pending, answer_all};
use crate::key_material::KeyHash;
use crate::last_used::Mark;
use crate::permission_query::Query;
use crate::ratelimit::keys::{self as key_limits, KeyLimit};
use crate::striped::Striped;
use crate::time::now_ms;

/// What verification needs to know about a key, cached by hash.
#[derive(Debug)]
pub struct CachedKey {
    pub id: String,
    /// Shared by every cached key of the workspace (see [`SharedIds`]).
    pub workspace_id: Arc<str>,
    /// Shared by every cached key of the API.
    pub api_id: Arc<str>,
    pub name: Option<String>,
    /// `meta` as JSON text, serialized once and shared by every answer.
    pub meta: Option<Arc<RawValue>>,
    pub enabled: bool,
    pub expires_at: Option<i64>,
    /// Whether the key has finite credits (the balance itself lives only in the database).
    pub metered: bool,
    /// The key's [`Identity`] as JSON text, like `meta`.
    pub identity: Option<Arc<RawValue>>,
    /// The identity's id, for forgetting the keys of an identity that changes.
    pub identity_id: Option<Box<str>>,
    /// The identity's externalId, for the detail of a 412.
    identity_external_id: Option<Box<str>>,
    /// What the key holds, resolved when it was loaded (`None`: no permission and no role, as
    /// most keys, which then pay one pointer for it).
    pub grants: Option<Box<CachedGrants>>,
    /// The key's rate limits and its identity's, by name (`None`: none, as most keys).
    pub ratelimits: Option<Box<[KeyLimit]>>,
    /// When the key was last used, as this node knows it (see [`crate::last_used`]).
    pub last_used: Mark,
    /// The `data` of a VALID answer, rendered once: for an unmetered key it is the same on every
    /// verification (`None` for metered keys, whose answers carry the balance).
    valid_answer: Option<Box<RawValue>>,
}

/// A cached key's permissions and roles.
#[derive(Debug)]
pub struct CachedGrants {
    /// The slugs of every permission, direct and through roles: what the permission query of a
    /// verification is checked against, without touching the database.
    pub permissions: HashSet<String>,
    /// The same as answers list them, the roles, and the ids a change is announced by.
    pub resolved: KeyGrants,
}

impl CachedKey {
    /// The externalId of the key's identity (`""` without one).
    fn identity_external_id(&self) -> &str {
        self.identity_external_id.as_deref().unwrap_or_default()
    }

    /// Whether the key holds the permission with this id, directly or through a role.
    pub fn holds_permission(&self, permission_id: &str) -> bool {
        self.grants.as_ref().is_some_and(|g| {
            g.resolved
                .permission_ids
                .iter()
                .any(|id| id == permission_id)
        })
    }

    /// Whether the key holds the role with this id.
    pub fn holds_role(&self, role_id: &str) -> bool {
        self.grants
            .as_ref()
            .is_some_and(|g| g.resolved.role_ids.iter().any(|id| id == role_id))
    }

    /// Whether the key satisfies the permission query `query`.
    fn satisfies(&self, query: &Query) -> bool {
        match &self.grants {
            Some(grants) => query.is_satisfied_by(&grants.permissions),
            None => query.is_satisfied_by(&HashSet::new()),
        }
    }
}

/// Parses stored JSON object text (`meta` columns).
pub fn parse_meta(text: Option<&str>) -> Option<Map<String, Value>> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

/// The identity a key belongs to, in wire form, with its rate limits (those of `limits` that
/// are the identity's).
pub fn identity_view(row: &KeyRecord, limits: &[LimitRecord]) -> Option<Identity> {
    match (&row.identity_id, &row.identity_external_id) {
        (Some(id), Some(external_id)) => {
            let own: Vec<LimitRecord> = limits
                .iter()
                .filter(|l| l.identity_id.as_deref() == Some(id))
                .cloned()
                .collect();
            Some(Identity {
                id: id.clone(),
                external_id: external_id.clone(),
                meta: parse_meta(row.identity_meta.as_deref()),
                ratelimits: key_limits::views(&own),
            })
        }
        _ => None,
    }
}

/// The key's own limits among `limits`, in wire form.
pub fn key_ratelimits_view(key_id: &str, limits: &[LimitRecord]) -> Option<Vec<RatelimitResponse>> {
    let own: Vec<LimitRecord> = limits
        .iter()
        .filter(|l| l.key_id.as_deref() == Some(key_id))
        .cloned()
        .collect();
    key_limits::views(&own)
}

/// The workspace and API ids of cached keys, each stored once. A million cached keys name a few
/// workspaces and APIs: shared, the ids take no memory per key, and the workspace check of every
/// verification reads text that stays in the CPU caches instead of a per-key copy. An id stays
/// here once seen (a few dozen bytes per workspace or API ever verified against).
#[derive(Default)]
pub struct SharedIds(Mutex<HashSet<Arc<str>>>);

impl SharedIds {
    pub fn share(&self, id: String) -> Arc<str> {
        let mut ids = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(shared) = ids.get(id.as_str()) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(id);
        ids.insert(Arc::clone(&shared));
        shared
    }
}

impl CachedKey {
    pub fn from_row(
        row: KeyRecord,
        grants: KeyGrants,
        limits: Vec<LimitRecord>,
        ids: &SharedIds,
    ) -> CachedKey {
        let identity = identity_view(&row, &limits).as_ref().and_then(raw_json);
        let ratelimits = key_limits::key_limits(&row.id, row.live_identity_id(), limits);
        let grants = (!grants.is_empty()).then(|| {
            Box::new(CachedGrants {
                permissions: grants.permission_set(),
                resolved: grants,
            })
        });
        let mut key = CachedKey {
            // Stored as the compact JSON text of an object (written by `keys.createKey` and
            // `keys.updateKey`): shared as is, not parsed only to be serialized again.
            meta: row
                .meta
                .and_then(|text| RawValue::from_string(text).ok())
                .map(Arc::from),
            last_used: Mark::new(row.last_used_at),
            id: row.id,
            workspace_id: ids.share(row.workspace_id),
            api_id: ids.share(row.api_id),
            name: row.name,
            enabled: row.enabled,
            expires_at: row.expires_at,
            metered: row.remaining.is_some(),
            identity,
            identity_external_id: row.identity_external_id.clone().map(String::into_boxed_str),
            identity_id: row.identity_id.map(String::into_boxed_str),
            grants,
            ratelimits,
            valid_answer: None,
        };
        if !key.metered {
            // Serializing plain strings, numbers and JSON text cannot fail.
            key.valid_answer =
                serde_json::value::to_raw_value(&key.answer(VerifyCode::Valid, None)).ok();
        }
        key
    }

    /// The answer for outcome `code` with `credits` left.
    fn answer(&self, code: VerifyCode, credits: Option<i64>) -> VerifyKeyResponseData {
        VerifyKeyResponseData {
            valid: code == VerifyCode::Valid,
            code,
            key_id: Some(self.id.clone()),
            keyspace_id: Some(Arc::clone(&self.api_id)),
            name: self.name.clone(),
            meta: self.meta.clone(),
            expires: self.expires_at,
            credits,
            enabled: Some(self.enabled),
            permissions: self
                .grants
                .as_ref()
                .and_then(|g| g.resolved.listed_permissions()),
            roles: self.grants.as_ref().and_then(|g| g.resolved.listed_roles()),
            identity: self.identity.clone(),
            ratelimits: None,
        }
    }
}

/// The `data` of a verifyKey answer.
pub enum Verification {
    /// A VALID answer of an unmetered key, rendered when the key was cached.
    Prerendered(Arc<CachedKey>),
    Computed(VerifyKeyResponseData),
}

impl From<VerifyKeyResponseData> for Verification {
    fn from(data: VerifyKeyResponseData) -> Self {
        Verification::Computed(data)
    }
}

impl serde::Serialize for Verification {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Verification::Prerendered(key) => match &key.valid_answer {
                Some(answer) => answer.serialize(serializer),
                None => key.answer(VerifyCode::Valid, None).serialize(serializer),
            },
            Verification::Computed(data) => data.serialize(serializer),
        }
    }
}

/// `value` as shareable JSON text.
fn raw_json<T: serde::Serialize>(value: &T) -> Option<Arc<RawValue>> {
    // Serializing an `Identity` cannot fail: every key of its maps is a string.
    serde_json::value::to_raw_value(value).ok().map(Arc::from)
}

/// Looks a key up through the cache.
pub async fn lookup(keyward: &Keyward, hash: KeyHash) -> ApiResult<Option<Arc<CachedKey>>> {
    let caches = &keyward.caches;
    caches
        .keys
        // The database handle is cloned only on a miss, when the load needs its own.
        .get_or_load(hash, || {
            let (db, ids) = (keyward.db.clone(), Arc::clone(&caches.shared_ids));
            // A use of an earlier entry of this key (invalidated, evicted) not written yet.
            let marked = keyward.last_used.unwritten(&hash);
            async move { load(&db, &ids, hash, marked).await }
        })
        .await
        .map_err(LoadError::into_api_error)
}

/// Loads the key with `hash`; its last use is the later of the stored one and `marked`.
async fn load(
    db: &Db,
    ids: &SharedIds,
    hash: KeyHash,
    marked: Option<i64>,
) -> Result<Option<Arc<CachedKey>>, LoadError> {
    let mut conn = db.reader().await.map_err(LoadError::store)?;
    let Some(row) = keys::find_live_by_hash(&mut conn, hash.as_bytes())
        .await
        .map_err(LoadError::store)?
    else {
        return Ok(None);
    };
    // The key's grants are resolved here, once per load, so that verifications check a query
    // against the cached set (`keyward-bench` measures this against plain verifyKey).
    let grants = rbac::grants_of_keys(&mut conn, std::slice::from_ref(&row.id))
        .await
        .map_err(LoadError::store)?;
    let grants = grants::by_key(grants).remove(&row.id).unwrap_or_default();
    // Its limits and its live identity's, so that applying them needs no I/O.
    let limits = ratelimits::limits_for_verification(&mut conn, &row.id, row.live_identity_id())
        .await
        .map_err(LoadError::store)?;
    let mut row = row;
    row.last_used_at = row.last_used_at.max(marked);
    Ok(Some(Arc::new(CachedKey::from_row(
        row, grants, limits, ids,
    ))))
}

pub async fn verify_key(
    keyward: &Keyward,
    caller: &Caller,
    req: VerifyKeyRequest,
) -> ApiResult<Verification> {
    // A malformed query is the caller's bug whatever the key: reject it before looking.
    let query = match req.permissions.as_deref() {
        Some(text) => Some(Query::parse(text).map_err(|e| {
            ApiError::new(
                ErrorCode::PermissionsQuerySyntaxError,
                format!("The permissions query {text:?} is invalid: {e}. Combine permission names with AND, OR and parentheses."),
            )
        })?),
        None => None,
    };

    let hash = KeyHash::of(&req.key);
    let key = lookup(keyward, hash).await?.filter(|k| {
        *k.workspace_id == *caller.workspace_id()
            // Restricted to some keyspaces (API ids): a key of another is not found, and so
            // spends nothing and leaves no trace.
            && req
                .keyspaces
                .as_ref()
                .is_none_or(|keyspaces| keyspaces.iter().any(|id| **id == *k.api_id))
            && caller.may(
                Action::VerifyKey,
                &Target::Key {
                    api_id: &k.api_id,
                    key_id: &k.id,
                },
            )
    });
    let Some(key) = key else {
        return Ok(not_found(keyward));
    };
    // Any verification of a key that exists counts as a use, whatever its outcome.
    let now = now_ms();
    keyward.last_used.mark(&hash, &key, now);

    let mut code = if !key.enabled {
        VerifyCode::Disabled
    } else if key.expires_at.is_some_and(|expires| expires <= now) {
        VerifyCode::Expired
    } else if query.as_ref().is_some_and(|q| !key.satisfies(q)) {
        VerifyCode::InsufficientPermissions
    } else {
        VerifyCode::Valid
    };

    // Rate limits, decided before credits are spent: a RATE_LIMITED call spends none.
    let limited = if code == VerifyCode::Valid {
        apply_ratelimits(keyward, &key, &req).await?
    } else {
        None
    };
    if limited.as_ref().is_some_and(|l| !l.decision.passed) {
        code = VerifyCode::RateLimited;
    }

    let mut credits = None;
    if key.metered {
        let cost = req.credits.as_ref().map_or(1, |c| c.cost);
        // Boxed: the database futures are kilobytes, and kept inline they would make every
        // verification's future that large, to be moved and copied on every request.
        let settled = Box::pin(settle_credits(keyward, &key.id, code, cost)).await;
        // A verification that fails (the database) or finds the key gone meanwhile charges none
        // of its limits either.
        if !matches!(settled, Ok(Settled::Balance { .. })) {
            give_back(keyward, limited.as_ref()).await;
        }
        match settled? {
            Settled::Gone => return Ok(not_found(keyward)),
            Settled::Balance { code: after, left } => {
                code = after;
                credits = left;
            }
        }
    }

    keyward.verifications.record(code);
    if let Some(limited) = limited {
        // Refused for its credits: the limits it was charged give the charge back.
        let refund = code == VerifyCode::UsageExceeded && give_back(keyward, Some(&limited)).await;
        let mut answer = key.answer(code, credits);
        answer.ratelimits = Some(key_limits::results(
            &limited.planned,
            &limited.decision,
            refund,
        ));
        return Ok(answer.into());
    }
    Ok(if code == VerifyCode::Valid && key.valid_answer.is_some() {
        Verification::Prerendered(key)
    } else {
        key.answer(code, credits).into()
    })
}

/// Takes back the charges of `limited` if its limits were charged; whether they were.
async fn give_back(keyward: &Keyward, limited: Option<&Limited>) -> bool {
    match limited {
        Some(limited) if limited.decision.passed => {
            keyward.limiter.refund(&limited.checks, limited.at).await;
            true
        }
        _ => false,
    }
}

/// The limits a verification applied and how they decided.
struct Limited {
    planned: Vec<key_limits::Planned>,
    checks: Vec<crate::ratelimit::Check>,
    decision: crate::ratelimit::Decision,
    at: i64,
}

/// Decides the rate limits of verifying `key` with `req` (none: `None`); 412 for a requested
/// limit the key does not have.
async fn apply_ratelimits(
    keyward: &Keyward,
    key: &CachedKey,
    req: &VerifyKeyRequest,
) -> ApiResult<Option<Limited>> {
    if key.ratelimits.is_none() && req.ratelimits.is_none() {
        return Ok(None);
    }
    let identity = key
        .identity_id
        .as_deref()
        .map(|id| (id, key.identity_external_id()));
    let planned = key_limits::plan(
        &key.id,
        identity,
        key.ratelimits.as_deref(),
        req.ratelimits.as_deref(),
    )?;
    if planned.is_empty() {
        return Ok(None);
    }
    let checks = key_limits::checks(&planned);
    let at = keyward.clock.now();
    let decision = keyward.limiter.decide(&checks, at).await?;
    keyward.limiter.key_limits.record(decision.passed);
    Ok(Some(Limited {
        planned,
        checks,
        decision,
        at,
    }))
}

/// The NOT_FOUND answer, counted.
fn not_found(keyward: &Keyward) -> Verification {
    keyward.verifications.record(VerifyCode::NotFound);
    VerifyKeyResponseData::not_found().into()
}

/// Verification outcomes, counted per code for `/metrics` (striped: written on every request).
#[derive(Default)]
pub struct VerifyStats(Striped<[AtomicU64; VerifyCode::ALL.len()]>);

impl VerifyStats {
    pub fn record(&self, code: VerifyCode) {
        let i = VerifyCode::ALL.iter().position(|c| *c == code).unwrap_or(0);
        self.0.local()[i].fetch_add(1, Relaxed);
    }

    /// How many verifications answered `code`.
    pub fn count(&self, code: VerifyCode) -> u64 {
        let i = VerifyCode::ALL.iter().position(|c| *c == code).unwrap_or(0);
        self.0.sum(|counts| &counts[i])
    }
}

/// What spending a metered key's credits came to.
enum Settled {
    /// The key was deleted between the cache lookup and now.
    Gone,
    /// The outcome after spending (`USAGE_EXCEEDED` if the balance fell short) and the credits
    /// left (`None`: the key was made unlimited meanwhile).
    Balance { code: VerifyCode, left: Option<i64> },
}

/// Spends `cost` credits of a metered key if `code` is still VALID, or reads its balance.
async fn settle_credits(
    keyward: &Keyward,
    key_id: &str,
    code: VerifyCode,
    cost: i64,
) -> ApiResult<Settled> {
    if code == VerifyCode::Valid && cost > 0 {
        let spend = Spend {
            key_id: key_id.to_owned(),
            cost,
        };
        return Ok(match keyward.spends.submit(spend).await? {
            LockedSpend::Spent(left) => Settled::Balance {
                code,
                left: Some(left),
            },
            LockedSpend::Refused(left) => Settled::Balance {
                code: VerifyCode::UsageExceeded,
                left: Some(left),
            },
            // Made unlimited meanwhile: nothing to spend.
            LockedSpend::Unlimited => Settled::Balance { code, left: None },
            LockedSpend::Gone => Settled::Gone,
        });
    }
    // Nothing to spend (not VALID, or a cost of 0): the balance, as it is.
    let mut conn = keyward.db.reader().await?;
    Ok(match keys::remaining(&mut conn, key_id).await? {
        None => Settled::Gone,
        Some(left) => Settled::Balance { code, left },
    })
}

/// A metered verification's spend of `cost` credits of the live key `key_id`.
pub struct Spend {
    key_id: String,
    cost: i64,
}

/// Commits a batch of [`Spend`]s ([`crate::group_commit`]), each decided in arrival order on the
/// balance the earlier ones left, and answers each once the batch is durable.
pub(crate) fn spend_credits(
    keyward: Arc<Keyward>,
    batch: Vec<Pending<Spend, LockedSpend>>,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let spent = match &batch[..] {
            [one] => spend_one(&keyward.db, &one.request).await.map(|s| vec![s]),
            _ => spend_many(&keyward.db, &batch).await,
        };
        match spent {
            Ok(outcomes) => {
                for (pending, outcome) in batch.into_iter().zip(outcomes) {
                    pending.answer(Ok(outcome));
                }
            }
            Err(err) => answer_all(batch, &ApiError::from(err)),
        }
    })
}

/// A spend alone: one statement that checks and spends, committed by itself.
async fn spend_one(db: &Db, spend: &Spend) -> StoreResult<LockedSpend> {
    let mut conn = db.writer().await?;
    if let Some(left) = keys::spend_credits(&mut conn, &spend.key_id, spend.cost).await? {
        return Ok(LockedSpend::Spent(left));
    }
    // Too few credits a moment ago. Decide again under the balance's lock, so that a refusal
    // reports the balance it was refused on, not one a concurrent increment changed since
    // (SQLite's one writer connection must be free for it).
    drop(conn);
    let outcome = keys::spend_credits_committed(db, &[(spend.key_id.as_str(), spend.cost)]).await?;
    Ok(outcome[0])
}

/// Several spends: one round trip on PostgreSQL, one transaction on SQLite
/// ([`keys::spend_credits_committed`]).
async fn spend_many(
    db: &Db,
    batch: &[Pending<Spend, LockedSpend>],
) -> StoreResult<Vec<LockedSpend>> {
    let spends: Vec<(&str, i64)> = batch
        .iter()
        .map(|p| (p.request.key_id.as_str(), p.request.cost))
        .collect();
    keys::spend_credits_committed(db, &spends).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(remaining: Option<i64>) -> KeyRecord {
        KeyRecord {
            id: "key_1".into(),
            workspace_id: "ws_1".into(),
            api_id: "api_1".into(),
            hash: vec![0; 32],
            start: "sk_ab".into(),
            byte_length: 16,
            name: Some("a \"quoted\" name".into()),
            identity_id: Some("id_1".into()),
            identity_external_id: Some("customer_1".into()),
            identity_meta: Some(r#"{"plan":"pro"}"#.into()),
            meta: Some(r#"{"team":"x","n":[1,2]}"#.into()),
            enabled: true,
            expires_at: Some(4_102_444_800_000),
            credits_id: "cred_1".into(),
            remaining,
            refill_amount: None,
            refill_day: None,
            last_refill_at: None,
            created_at: 1,
            updated_at: None,
            last_used_at: None,
        }
    }

    #[test]
    fn a_prerendered_answer_is_the_computed_answer() {
        let key = Arc::new(CachedKey::from_row(
            row(None),
            KeyGrants::default(),
            Vec::new(),
            &SharedIds::default(),
        ));
        let prerendered = serde_json::to_string(&Verification::Prerendered(key.clone())).unwrap();
        let computed = serde_json::to_string(&key.answer(VerifyCode::Valid, None)).unwrap();
        assert_eq!(prerendered, computed);
        assert!(
            prerendered.contains(r#""meta":{"team":"x","n":[1,2]}"#),
            "{prerendered}"
        );
        assert!(
            prerendered.contains(r#""externalId":"customer_1""#),
            "{prerendered}"
        );
    }

    #[test]
    fn metered_keys_are_not_prerendered() {
        // Their answers carry the balance left, which changes on every verification.
        assert!(
            CachedKey::from_row(
                row(Some(5)),
                KeyGrants::default(),
                Vec::new(),
                &SharedIds::default()
            )
            .valid_answer
            .is_none()
        );
    }

    #[test]
    fn keys_of_one_workspace_and_api_share_their_ids() {
        let ids = SharedIds::default();
        let (a, b) = (
            CachedKey::from_row(row(None), KeyGrants::default(), Vec::new(), &ids),
            CachedKey::from_row(row(None), KeyGrants::default(), Vec::new(), &ids),
        );
        assert!(Arc::ptr_eq(&a.workspace_id, &b.workspace_id));
        assert!(Arc::ptr_eq(&a.api_id, &b.api_id));
        assert_eq!(&*a.api_id, "api_1");
        let other = ids.share("api_2".to_owned());
        assert!(!Arc::ptr_eq(&a.api_id, &other));
    }
}
