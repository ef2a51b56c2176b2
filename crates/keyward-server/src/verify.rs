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
use std::sync::Arc;

use keyward_types::ErrorCode;
use keyward_types::keys::{Identity, VerifyCode, VerifyKeyRequest, VerifyKeyResponseData};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::app::App;
use crate::auth::Caller;
use crate::cache::LoadError;
use crate::error::{ApiError, ApiResult};
use crate::key_material::KeyHash;
use crate::permission_query::Query;
use crate::store::{self, Db};
use crate::time::now_ms;

/// What verification needs to know about a key, cached by hash.
#[derive(Debug)]
pub struct CachedKey {
    pub id: String,
    pub workspace_id: String,
    pub api_id: String,
    pub name: Option<String>,
    /// `meta` as JSON text, serialized once and shared by every answer.
    pub meta: Option<Arc<RawValue>>,
    pub enabled: bool,
    pub expires_at: Option<i64>,
    /// Whether the key has finite credits (the balance itself lives only in the database).
    pub metered: bool,
    /// The key's [`Identity`] as JSON text, like `meta`.
    pub identity: Option<Arc<RawValue>>,
    /// Direct and role-derived permissions (empty until RBAC arrives).
    pub permissions: HashSet<String>,
}

/// Parses stored JSON object text (`meta` columns).
pub fn parse_meta(text: Option<&str>) -> Option<Map<String, Value>> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

/// The identity a key belongs to, in wire form.
pub fn identity_view(row: &store::keys::KeyRow) -> Option<Identity> {
    match (&row.identity_id, &row.identity_external_id) {
        (Some(id), Some(external_id)) => Some(Identity {
            id: id.clone(),
            external_id: external_id.clone(),
            meta: parse_meta(row.identity_meta.as_deref()),
            ratelimits: None,
        }),
        _ => None,
    }
}

impl CachedKey {
    pub fn from_row(row: store::keys::KeyRow) -> CachedKey {
        let identity = identity_view(&row).as_ref().and_then(raw_json);
        CachedKey {
            // Stored as the compact JSON text of an object (written by `keys.createKey` and
            // `keys.updateKey`): shared as is, not parsed only to be serialized again.
            meta: row
                .meta
                .and_then(|text| RawValue::from_string(text).ok())
                .map(Arc::from),
            id: row.id,
            workspace_id: row.workspace_id,
            api_id: row.api_id,
            name: row.name,
            enabled: row.enabled,
            expires_at: row.expires_at,
            metered: row.remaining.is_some(),
            identity,
            permissions: HashSet::new(),
        }
    }
}

/// `value` as shareable JSON text.
fn raw_json<T: serde::Serialize>(value: &T) -> Option<Arc<RawValue>> {
    // Serializing an `Identity` cannot fail: every key of its maps is a string.
    serde_json::value::to_raw_value(value).ok().map(Arc::from)
}

/// Looks a key up through the cache.
pub async fn lookup(app: &App, hash: KeyHash) -> ApiResult<Option<Arc<CachedKey>>> {
    app.keys
        // The database handle is cloned only on a miss, when the load needs its own.
        .get_or_load(hash, || {
            let db = app.db.clone();
            async move { load(&db, hash).await }
        })
        .await
        .map_err(ApiError::internal)
}

async fn load(db: &Db, hash: KeyHash) -> Result<Option<Arc<CachedKey>>, LoadError> {
    let to_load_error = |e: sqlx::Error| LoadError(format!("loading a key: {e}").into());
    let mut conn = db.reader().await.map_err(to_load_error)?;
    let row = store::keys::find_live_by_hash(&mut conn, hash.as_bytes())
        .await
        .map_err(to_load_error)?;
    Ok(row.map(|row| Arc::new(CachedKey::from_row(row))))
}

pub async fn verify_key(
    app: &App,
    caller: &Caller,
    req: VerifyKeyRequest,
) -> ApiResult<VerifyKeyResponseData> {
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

    let key = lookup(app, KeyHash::of(&req.key)).await?.filter(|k| {
        k.workspace_id == caller.workspace_id() && caller.may_on_api(&k.api_id, "verify_key")
    });
    let Some(key) = key else {
        app.metrics.record_verification(VerifyCode::NotFound);
        return Ok(VerifyKeyResponseData::not_found());
    };

    let mut code = if !key.enabled {
        VerifyCode::Disabled
    } else if key.expires_at.is_some_and(|expires| expires <= now_ms()) {
        VerifyCode::Expired
    } else if query.is_some_and(|q| !q.is_satisfied_by(&key.permissions)) {
        VerifyCode::InsufficientPermissions
    } else {
        VerifyCode::Valid
    };

    if code == VerifyCode::Valid {
        check_requested_ratelimits(&key, &req)?;
    }

    let mut credits = None;
    if key.metered {
        let cost = req.credits.as_ref().map_or(1, |c| c.cost);
        let spend = code == VerifyCode::Valid && cost > 0;
        let mut conn = if spend {
            app.db.writer().await?
        } else {
            app.db.reader().await?
        };
        let spent = if spend {
            store::keys::spend_credits(&mut conn, &key.id, cost).await?
        } else {
            None
        };
        credits = match spent {
            Some(left) => Some(left),
            None => match store::keys::remaining(&mut conn, &key.id).await? {
                // Deleted between the cache lookup and now.
                None => {
                    app.metrics.record_verification(VerifyCode::NotFound);
                    return Ok(VerifyKeyResponseData::not_found());
                }
                // Made unlimited meanwhile: nothing to spend.
                Some(None) => None,
                Some(Some(left)) => {
                    if spend {
                        code = VerifyCode::UsageExceeded;
                    }
                    Some(left)
                }
            },
        };
    }

    app.metrics.record_verification(code);
    Ok(VerifyKeyResponseData {
        valid: code == VerifyCode::Valid,
        code,
        key_id: Some(key.id.clone()),
        name: key.name.clone(),
        meta: key.meta.clone(),
        expires: key.expires_at,
        credits,
        enabled: Some(key.enabled),
        permissions: None,
        roles: None,
        identity: key.identity.clone(),
        ratelimits: None,
    })
}

/// Keys and identities cannot carry rate limits yet, so any named limit a request asks for does
/// not exist (412, as Unkey answers for an unknown name), and ad-hoc limits are refused (400).
fn check_requested_ratelimits(key: &CachedKey, req: &VerifyKeyRequest) -> ApiResult<()> {
    let Some(limit) = req.ratelimits.as_ref().and_then(|l| l.first()) else {
        return Ok(());
    };
    if limit.limit.is_some() && limit.duration.is_some() {
        return Err(ApiError::invalid_field(
            "ratelimits",
            "ad-hoc rate limits are not supported by this keyward version",
            "remove ratelimits from the request",
        ));
    }
    Err(ApiError::new(
        ErrorCode::PreconditionFailed,
        format!(
            "ratelimit '{}' was requested but does not exist for key '{}'. Configure it on the key, \
             or pass both limit and duration.",
            limit.name, key.id
        ),
    ))
}
