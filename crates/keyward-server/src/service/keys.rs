//! `keys.*` except verification (see [`crate::verify`]).

use keyward_types::keys::{
    CreateKeyRequest, CreateKeyResponseData, CreditsOperation, CreditsRefill, DeleteKeyRequest,
    GetKeyRequest, KeyCredits, KeyResponseData, MAX_CREDITS, RefillInterval, RerollKeyRequest,
    RerollKeyResponseData, UpdateCreditsRequest, UpdateKeyRequest, WhoamiRequest,
};
use keyward_types::{Empty, ErrorCode, Nullable};

use crate::app::App;
use crate::audit::{self, Actor};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::key_material::{self, KeyHash, new_id};
use crate::last_used::LastUsed;
use crate::store::keys::{CreditsChange, KeyRow};
use crate::store::{self, AsConn, Tx};
use crate::time::now_ms;
use crate::verify::{identity_view, parse_meta};

/// Default number of random bytes in a key.
const DEFAULT_BYTE_LENGTH: i64 = 16;

/// The wire form of a stored key (never the secret). `lastUsedAt` is the later of the stored
/// time and this node's unflushed mark.
pub fn key_view(app: &App, row: KeyRow) -> KeyResponseData {
    let last_used_at = LastUsed::merged(app, &row.hash, row.last_used_at);
    let credits = row.remaining.map(|remaining| KeyCredits {
        remaining: Some(remaining),
        refill: refill_view(row.refill_amount, row.refill_day),
    });
    let identity = identity_view(&row);
    KeyResponseData {
        key_id: row.id,
        start: row.start,
        enabled: row.enabled,
        name: row.name,
        meta: parse_meta(row.meta.as_deref()),
        created_at: row.created_at,
        updated_at: row.updated_at,
        last_used_at,
        expires: row.expires_at,
        permissions: None,
        roles: None,
        credits,
        identity,
        plaintext: None,
        ratelimits: None,
    }
}

fn refill_view(amount: Option<i64>, day: Option<i64>) -> Option<CreditsRefill> {
    amount.map(|amount| CreditsRefill {
        interval: if day.is_some() {
            RefillInterval::Monthly
        } else {
            RefillInterval::Daily
        },
        amount,
        refill_day: day,
    })
}

/// Stored form of a refill: (amount, day). Monthly defaults to the 1st, as Unkey's docs say
/// (Unkey's handlers answer 400 instead; see docs/API.md).
fn refill_columns(refill: Option<&CreditsRefill>) -> (Option<i64>, Option<i64>) {
    match refill {
        None => (None, None),
        Some(r) => match r.interval {
            RefillInterval::Daily => (Some(r.amount), None),
            RefillInterval::Monthly => (Some(r.amount), Some(r.refill_day.unwrap_or(1))),
        },
    }
}

/// Refuses what this version cannot store yet rather than silently dropping it.
fn refuse_unsupported(
    roles: &Option<Vec<String>>,
    permissions: &Option<Vec<String>>,
    ratelimits_sent: bool,
) -> ApiResult<()> {
    let fix = "remove the field; roles, permissions and rate limits on keys arrive in a later keyward version";
    if roles.is_some() {
        return Err(ApiError::invalid_field(
            "roles",
            "is not supported yet",
            fix,
        ));
    }
    if permissions.is_some() {
        return Err(ApiError::invalid_field(
            "permissions",
            "is not supported yet",
            fix,
        ));
    }
    if ratelimits_sent {
        return Err(ApiError::invalid_field(
            "ratelimits",
            "is not supported yet",
            fix,
        ));
    }
    Ok(())
}

/// A new key that would verify EXPIRED from its first request is a mistake, most often a time in
/// seconds sent as milliseconds (Unkey creates it). `keys.updateKey` still takes a past time: it
/// is how a key is made to expire now.
fn refuse_expired_at_birth(expires: Option<i64>, now: i64) -> ApiResult<()> {
    match expires {
        Some(expires) if expires <= now => Err(ApiError::invalid_field(
            "expires",
            format!("must be in the future: {expires} is at or before the server's time, {now}"),
            "send a later time in unix milliseconds (a time in seconds reads as January 1970), or omit expires for a key that never expires",
        )),
        _ => Ok(()),
    }
}

/// Metadata is stored as JSON text.
fn meta_text(meta: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(meta.clone()).to_string()
}

async fn find_key(c: &mut impl AsConn, caller: &Caller, key_id: &str) -> ApiResult<KeyRow> {
    store::keys::find_live_by_id(c, caller.workspace_id(), key_id)
        .await?
        .ok_or_else(|| ApiError::key_not_found(key_id))
}

async fn identity_for(tx: &mut Tx, workspace_id: &str, external_id: &str) -> ApiResult<String> {
    Ok(store::identities::upsert(tx, &new_id("id"), workspace_id, external_id, now_ms()).await?)
}

pub async fn create_key(
    app: &App,
    caller: &Caller,
    req: CreateKeyRequest,
) -> ApiResult<CreateKeyResponseData> {
    refuse_unsupported(&req.roles, &req.permissions, req.ratelimits.is_some())?;
    let now = now_ms();
    refuse_expired_at_birth(req.expires, now)?;
    let mut tx = app.db.begin().await?;
    // Deleted APIs take no new keys (Unkey allows it; see docs/API.md).
    let api = store::apis::find_live(&mut tx, caller.workspace_id(), &req.api_id)
        .await?
        .ok_or_else(|| ApiError::api_not_found(&req.api_id))?;
    caller.require_on_api(&api.id, "create_key")?;
    if req.recoverable == Some(true) {
        return Err(ApiError::new(
            ErrorCode::PreconditionFailed,
            "keyward never stores keys in recoverable form. Omit recoverable; the key is shown once in this response.",
        ));
    }
    let byte_length = req.byte_length.unwrap_or(DEFAULT_BYTE_LENGTH);
    let new_key = key_material::generate(req.prefix.as_deref(), byte_length as usize);
    let identity_id = match &req.external_id {
        Some(external_id) => Some(identity_for(&mut tx, caller.workspace_id(), external_id).await?),
        None => None,
    };
    let (refill_amount, refill_day) =
        refill_columns(req.credits.as_ref().and_then(|c| c.refill.as_ref()));
    let row = KeyRow {
        id: new_id("key"),
        workspace_id: caller.workspace_id().to_owned(),
        api_id: api.id.clone(),
        hash: new_key.hash.as_bytes().to_vec(),
        start: new_key.start.clone(),
        byte_length,
        name: req.name,
        identity_id,
        identity_external_id: None,
        identity_meta: None,
        meta: req.meta.as_ref().map(meta_text),
        enabled: req.enabled.unwrap_or(true),
        expires_at: req.expires,
        remaining: req.credits.as_ref().and_then(|c| c.remaining),
        refill_amount,
        refill_day,
        created_at: now,
        updated_at: None,
        last_used_at: None,
    };
    store::keys::insert(&mut tx, &row).await?;
    audit::record(
        &mut tx,
        &Actor::from(caller),
        caller.workspace_id(),
        "key.create",
        format!("Created {} in {}", row.id, api.id),
        vec![
            audit::target("key", &row.id, row.name.as_deref()),
            audit::target("api", &api.id, Some(&api.name)),
        ],
    )
    .await?;
    tx.commit().await?;
    // Drop a cached "not found" for this hash, should anyone have tried it before it existed.
    app.keys.invalidate(&new_key.hash);
    Ok(CreateKeyResponseData {
        key_id: row.id,
        key: new_key.plaintext.into_string(),
    })
}

pub async fn get_key(app: &App, caller: &Caller, req: GetKeyRequest) -> ApiResult<KeyResponseData> {
    let row = find_key(&mut app.db.reader().await?, caller, &req.key_id).await?;
    caller.require_on_api(&row.api_id, "read_key")?;
    if req.decrypt == Some(true) {
        return Err(ApiError::new(
            ErrorCode::PreconditionFailed,
            "keyward never stores keys in recoverable form, so it cannot decrypt them. Omit decrypt.",
        ));
    }
    Ok(key_view(app, row))
}

pub async fn whoami(app: &App, caller: &Caller, req: WhoamiRequest) -> ApiResult<KeyResponseData> {
    let hash = KeyHash::of(&req.key);
    let row = store::keys::find_live_by_hash(&mut app.db.reader().await?, hash.as_bytes()).await?;
    // Without read permission the answer is the same 404 as for an unknown key: the request
    // carries a secret, and a different status would tell whether it is a real key.
    match row {
        Some(row)
            if row.workspace_id == caller.workspace_id()
                && caller.may_on_api(&row.api_id, "read_key") =>
        {
            Ok(key_view(app, row))
        }
        _ => Err(ApiError::new(
            ErrorCode::KeyNotFound,
            "No live key matches the key you sent in this workspace (or the root key may not read it).",
        )),
    }
}

pub async fn update_key(app: &App, caller: &Caller, req: UpdateKeyRequest) -> ApiResult<Empty> {
    refuse_unsupported(&req.roles, &req.permissions, req.ratelimits.is_some())?;
    let mut tx = app.db.begin().await?;
    let mut row = find_key(&mut tx, caller, &req.key_id).await?;
    caller.require_on_api(&row.api_id, "update_key")?;

    let mut changed = Vec::new();
    if let Some(name) = req.name.into_change() {
        row.name = name;
        changed.push("name");
    }
    if let Some(external_id) = req.external_id.into_change() {
        row.identity_id = match external_id {
            Some(external_id) => {
                Some(identity_for(&mut tx, caller.workspace_id(), &external_id).await?)
            }
            None => None,
        };
        changed.push("externalId");
    }
    if let Some(meta) = req.meta.into_change() {
        row.meta = meta.as_ref().map(meta_text);
        changed.push("meta");
    }
    if let Some(expires) = req.expires.into_change() {
        row.expires_at = expires;
        changed.push("expires");
    }
    if let Some(enabled) = req.enabled {
        row.enabled = enabled;
        changed.push(if enabled { "enabled" } else { "disabled" });
    }
    if let Some(credits) = req.credits.into_change() {
        // The row was read inside this write transaction, so no credit spend can interleave.
        let credits = credits.unwrap_or(keyward_types::keys::UpdateCredits {
            remaining: Nullable::Null,
            refill: Nullable::Null,
        });
        if let Some(remaining) = credits.remaining.into_change() {
            row.remaining = remaining;
            if remaining.is_none() {
                (row.refill_amount, row.refill_day) = (None, None);
            }
        }
        if let Some(refill) = credits.refill.into_change() {
            if refill.is_some() && row.remaining.is_none() {
                return Err(ApiError::invalid_field(
                    "credits.refill",
                    "cannot refill a key with unlimited credits",
                    "set credits.remaining to a number in the same request",
                ));
            }
            (row.refill_amount, row.refill_day) = refill_columns(refill.as_ref());
        }
        changed.push("credits");
    }

    store::keys::update(&mut tx, &row, now_ms()).await?;
    let description = if changed.is_empty() {
        format!("Updated {} (no fields changed)", row.id)
    } else {
        format!("Updated {}: {}", row.id, changed.join(", "))
    };
    audit::record(
        &mut tx,
        &Actor::from(caller),
        caller.workspace_id(),
        "key.update",
        description,
        vec![audit::target("key", &row.id, row.name.as_deref())],
    )
    .await?;
    tx.commit().await?;
    invalidate(app, &row);
    Ok(Empty {})
}

pub async fn update_credits(
    app: &App,
    caller: &Caller,
    req: UpdateCreditsRequest,
) -> ApiResult<KeyCredits> {
    let mut tx = app.db.begin().await?;
    let row = find_key(&mut tx, caller, &req.key_id).await?;
    caller.require_on_api(&row.api_id, "update_key")?;
    let value = req.value.value().copied();
    let change = match (req.operation, value) {
        // Absent or null: unlimited.
        (CreditsOperation::Set, value) => CreditsChange::Set(value),
        (CreditsOperation::Increment, Some(amount)) => CreditsChange::Increment {
            amount,
            max: MAX_CREDITS,
        },
        (CreditsOperation::Decrement, Some(amount)) => CreditsChange::Decrement(amount),
        // Validation requires a value for these.
        (_, None) => {
            return Err(ApiError::invalid_field(
                "value",
                "is required",
                "send a number",
            ));
        }
    };
    let Some(after) = store::keys::change_credits(&mut tx, &row.id, change, now_ms()).await? else {
        return Err(ApiError::invalid_field(
            "operation",
            "cannot increment or decrement a key with unlimited credits",
            "use operation 'set' to give the key a limited number of credits first",
        ));
    };
    audit::record(
        &mut tx,
        &Actor::from(caller),
        caller.workspace_id(),
        "key.update",
        format!(
            "Updated credits of {}: {:?} {} → {}",
            row.id,
            req.operation,
            value.map_or("unlimited".to_string(), |v| v.to_string()),
            after
                .remaining
                .map_or("unlimited".to_string(), |v| v.to_string())
        ),
        vec![audit::target("key", &row.id, row.name.as_deref())],
    )
    .await?;
    tx.commit().await?;
    invalidate(app, &row);
    Ok(KeyCredits {
        remaining: after.remaining,
        refill: refill_view(after.refill_amount, after.refill_day),
    })
}

pub async fn reroll_key(
    app: &App,
    caller: &Caller,
    req: RerollKeyRequest,
) -> ApiResult<RerollKeyResponseData> {
    let mut tx = app.db.begin().await?;
    let old = find_key(&mut tx, caller, &req.key_id).await?;
    caller.require_on_api(&old.api_id, "create_key")?;
    let now = now_ms();
    let new_key = key_material::generate(
        key_material::prefix_of(&old.start),
        old.byte_length as usize,
    );
    // The new key inherits everything but its secret, id and timestamps.
    let new_row = KeyRow {
        id: new_id("key"),
        hash: new_key.hash.as_bytes().to_vec(),
        start: new_key.start.clone(),
        created_at: now,
        updated_at: None,
        last_used_at: None,
        ..old.clone()
    };
    store::keys::insert(&mut tx, &new_row).await?;
    // The old key keeps working for `expiration` ms (never longer than it already would).
    let old_expires = now.saturating_add(req.expiration);
    let old_expires = old.expires_at.map_or(old_expires, |e| e.min(old_expires));
    store::keys::set_expiry(&mut tx, &old.id, old_expires, now).await?;
    audit::record(
        &mut tx,
        &Actor::from(caller),
        caller.workspace_id(),
        "key.reroll",
        format!(
            "Rerolled {} as {}; the old key expires at {old_expires}",
            old.id, new_row.id
        ),
        vec![
            audit::target("key", &old.id, old.name.as_deref()),
            audit::target("key", &new_row.id, new_row.name.as_deref()),
        ],
    )
    .await?;
    tx.commit().await?;
    invalidate(app, &old);
    app.keys.invalidate(&new_key.hash);
    Ok(RerollKeyResponseData {
        key_id: new_row.id,
        key: new_key.plaintext.into_string(),
    })
}

pub async fn delete_key(app: &App, caller: &Caller, req: DeleteKeyRequest) -> ApiResult<Empty> {
    let mut tx = app.db.begin().await?;
    let row = find_key(&mut tx, caller, &req.key_id).await?;
    caller.require_on_api(&row.api_id, "delete_key")?;
    let permanent = req.permanent == Some(true);
    if permanent {
        store::keys::hard_delete(&mut tx, &row.id).await?;
    } else {
        store::keys::soft_delete(&mut tx, &row.id, now_ms()).await?;
    }
    audit::record(
        &mut tx,
        &Actor::from(caller),
        caller.workspace_id(),
        "key.delete",
        if permanent {
            format!("Permanently deleted {}", row.id)
        } else {
            format!("Deleted {}", row.id)
        },
        vec![
            audit::target("key", &row.id, row.name.as_deref()),
            audit::target("api", &row.api_id, None),
        ],
    )
    .await?;
    tx.commit().await?;
    invalidate(app, &row);
    Ok(Empty {})
}

/// Forgets the cached verification record of a changed key. Called after the commit.
fn invalidate(app: &App, row: &KeyRow) {
    if let Some(hash) = KeyHash::from_slice(&row.hash) {
        app.keys.invalidate(&hash);
    }
}
