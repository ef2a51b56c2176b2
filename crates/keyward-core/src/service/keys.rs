//! `keys.*` except verification (see [`crate::verify`]).

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use keyward_store::keys::{
    self, CreditsChange, CreditsPatch, KeyPatch, KeyRecord, NewCredits, NewKey,
};
use keyward_store::ratelimits::{self, NewLimit, Owner};
use keyward_store::rbac::{self, Link};
use keyward_store::{AsConn, apis, identities, refills};
use keyward_types::keys::{
    CreateKeyRequest, CreateKeyResponseData, CreditsOperation, CreditsRefill, DeleteKeyRequest,
    GetKeyRequest, KeyCredits, KeyResponseData, MAX_CREDITS, RatelimitRequest, RefillInterval,
    RerollKeyRequest, RerollKeyResponseData, UpdateCreditsRequest, UpdateKeyRequest, WhoamiRequest,
};
use keyward_types::permissions::{Action, Target};
use keyward_types::{Empty, ErrorCode, Nullable};

use crate::Keyward;
use crate::audit::{Actor, Event, Origin, Target as AuditTarget, TargetKind};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::grants::{self, KeyGrants};
use crate::group_commit::{Pending, answer_all};
use crate::key_material::{self, KeyHash, new_id};
use crate::last_used::LastUsed;
use crate::service::rbac::{self as rbac_service, Creating};
use crate::time::now_ms;
use crate::verify::{identity_view, key_ratelimits_view, parse_meta};
use crate::work::{Invalidation, Work};

/// Default number of random bytes in a key.
const DEFAULT_BYTE_LENGTH: i64 = 16;

/// The wire form of stored keys (never the secret), with their permissions and roles (read in
/// one query for all of them).
pub async fn key_views(
    keyward: &Keyward,
    c: &mut impl AsConn,
    rows: Vec<KeyRecord>,
) -> ApiResult<Vec<KeyResponseData>> {
    let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    let mut grants = grants::by_key(rbac::grants_of_keys(c, &ids).await?);
    // Their rate limits and their identities' (an identity's once, however many keys share it).
    let mut owners: Vec<Owner<'_>> = rows.iter().map(|row| Owner::Key(&row.id)).collect();
    let mut identities: Vec<&str> = rows
        .iter()
        .filter(|row| row.identity_external_id.is_some())
        .filter_map(|row| row.identity_id.as_deref())
        .collect();
    identities.sort_unstable();
    identities.dedup();
    owners.extend(identities.into_iter().map(Owner::Identity));
    let limits = ratelimits::limits_of(c, &owners).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let held = grants.remove(&row.id).unwrap_or_default();
            key_view(keyward, row, &held, &limits)
        })
        .collect())
}

/// The wire form of one stored key; see [`key_views`].
async fn one_view(
    keyward: &Keyward,
    c: &mut impl AsConn,
    row: KeyRecord,
) -> ApiResult<KeyResponseData> {
    let mut views = key_views(keyward, c, vec![row]).await?;
    Ok(views.pop().expect("one key in, one out"))
}

/// The wire form of a stored key holding `grants`. `lastUsedAt` is the later of the stored
/// time and this node's unflushed mark.
fn key_view(
    keyward: &Keyward,
    row: KeyRecord,
    grants: &KeyGrants,
    limits: &[ratelimits::LimitRecord],
) -> KeyResponseData {
    let last_used_at = LastUsed::merged(keyward, &row.hash, row.last_used_at);
    let credits = row.remaining.map(|remaining| KeyCredits {
        remaining: Some(remaining),
        refill: refill_view(row.refill_amount, row.refill_day, row.last_refill_at),
    });
    let identity = identity_view(&row, limits);
    let ratelimits = key_ratelimits_view(&row.id, limits);
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
        permissions: grants.listed_permissions(),
        roles: grants.listed_roles(),
        credits,
        identity,
        plaintext: None,
        ratelimits,
    }
}

fn refill_view(
    amount: Option<i64>,
    day: Option<i64>,
    last_refill_at: Option<i64>,
) -> Option<CreditsRefill> {
    amount.map(|amount| CreditsRefill {
        interval: if day.is_some() {
            RefillInterval::Monthly
        } else {
            RefillInterval::Daily
        },
        amount,
        refill_day: day,
        last_refill_at,
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

/// Makes `limits` the rate limits of `owner` (new ones get fresh `rl_…` ids).
pub(crate) async fn set_ratelimits(
    work: &mut Work,
    workspace_id: &str,
    owner: Owner<'_>,
    limits: &[RatelimitRequest],
) -> ApiResult<()> {
    let limits: Vec<NewLimit> = limits
        .iter()
        .map(|l| NewLimit {
            id: new_id("rl"),
            name: l.name.clone(),
            max_requests: l.limit,
            duration: l.duration,
            auto_apply: l.auto_apply,
        })
        .collect();
    ratelimits::replace_limits(work.tx(), workspace_id, owner, &limits, now_ms()).await?;
    Ok(())
}

/// Gives `key` the direct permissions (created where missing, as Unkey does, needing no `rbac`
/// permission) and roles (which must exist) of a createKey or updateKey request; `replace` drops
/// what it held before.
async fn give_grants(
    work: &mut Work,
    caller: &Caller,
    key: &KeyRecord,
    roles: Option<Vec<String>>,
    permissions: Option<Vec<String>>,
    replace: bool,
) -> ApiResult<()> {
    if let Some(roles) = roles {
        let roles = rbac_service::existing_roles(work.tx(), caller, &roles).await?;
        if replace || !roles.is_empty() {
            rbac_service::grant_roles(work, caller, key, &roles, replace).await?;
        }
    }
    if let Some(slugs) = permissions {
        let permissions =
            rbac_service::ensure_permissions(work, caller, &slugs, Creating::Freely).await?;
        if replace || !permissions.is_empty() {
            rbac_service::grant_permissions(work, caller, key, &permissions, replace).await?;
        }
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

/// The live key `key_id` of the caller's workspace, for reading.
async fn find_key(c: &mut impl AsConn, caller: &Caller, key_id: &str) -> ApiResult<KeyRecord> {
    keys::find_live_by_id(c, caller.workspace_id(), key_id)
        .await?
        .ok_or_else(|| ApiError::key_not_found(key_id))
}

/// Like [`find_key`], locking the key until `work` ends.
pub(crate) async fn lock_key(
    work: &mut Work,
    caller: &Caller,
    key_id: &str,
) -> ApiResult<KeyRecord> {
    keys::find_live_by_id_for_update(work.tx(), caller.workspace_id(), key_id)
        .await?
        .ok_or_else(|| ApiError::key_not_found(key_id))
}

async fn identity_for(work: &mut Work, workspace_id: &str, external_id: &str) -> ApiResult<String> {
    Ok(identities::upsert(
        work.tx(),
        &new_id("id"),
        workspace_id,
        external_id,
        now_ms(),
    )
    .await?)
}

fn key_target(key: &KeyRecord) -> AuditTarget {
    AuditTarget::new(TargetKind::Key, &key.id, key.name.as_deref())
}

/// The target of permission checks on `key`.
pub(crate) fn on(key: &KeyRecord) -> Target<'_> {
    Target::Key {
        api_id: &key.api_id,
        key_id: &key.id,
    }
}

/// Forgets the cached verification record of `key` once the change commits.
fn invalidate(work: &mut Work, key: &KeyRecord) {
    if let Some(hash) = KeyHash::from_slice(&key.hash) {
        work.invalidate(Invalidation::Key(hash));
    }
}

/// Forgets, once the change commits, the cached records of every key spending from the balance
/// `credits_id` (the generations of one key): whether a key is metered is cached.
async fn invalidate_sharing(work: &mut Work, credits_id: &str) -> ApiResult<()> {
    for hash in keys::hashes_sharing_credits(work.tx(), credits_id).await? {
        if let Some(hash) = KeyHash::from_slice(&hash) {
            work.invalidate(Invalidation::Key(hash));
        }
    }
    Ok(())
}

/// `keys.createKey`. A key without roles or permissions to attach (the shape of an import) is
/// created in a batch with the others arriving meanwhile ([`crate::group_commit`]): one
/// transaction and a few statements for the whole batch. One with grants runs a unit of work of
/// its own, since attaching them can fail on its own (an unknown role) and must fail alone.
pub async fn create_key(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: CreateKeyRequest,
) -> ApiResult<CreateKeyResponseData> {
    let now = now_ms();
    refuse_expired_at_birth(req.expires, now)?;
    if req.recoverable == Some(true) {
        return Err(ApiError::new(
            ErrorCode::PreconditionFailed,
            "keyward never stores keys in recoverable form. Omit recoverable; the key is shown once in this response.",
        ));
    }
    let (roles, permissions) = (req.roles.clone(), req.permissions.clone());
    let ratelimits = req.ratelimits.clone();
    let creation = Creation::new(caller.clone(), origin, req, now, keyward.clock.now());
    if roles.is_none() && permissions.is_none() && ratelimits.is_none() {
        return keyward.creations.submit(creation).await;
    }
    let mut work = Work::begin(keyward, Actor::system()).await?;
    let mut batch = CreationBatch::default();
    let key_id = creation.key.id.clone();
    let api = batch.check(&mut work, &creation).await?;
    batch
        .resolve_identities(&mut work, [&creation].into_iter())
        .await?;
    batch.stage(&mut work, &creation, &api);
    batch.insert(&mut work).await?;
    if let Some(limits) = &ratelimits {
        set_ratelimits(
            &mut work,
            caller.workspace_id(),
            Owner::Key(&key_id),
            limits,
        )
        .await?;
    }
    if roles.is_some() || permissions.is_some() {
        let record = lock_key(&mut work, caller, &key_id).await?;
        give_grants(&mut work, caller, &record, roles, permissions, false).await?;
    }
    work.commit().await?;
    Ok(creation.answer())
}

/// A `keys.createKey` about to be written: its records, made before the API is looked up.
pub struct Creation {
    caller: Caller,
    /// When its refill, if any, was configured ([`refills::configured`]).
    refill_since: Option<i64>,
    actor: Actor,
    external_id: Option<String>,
    credits: NewCredits,
    key: NewKey,
    material: key_material::NewKey,
}

impl Creation {
    /// `clock_now`: the limiter's and refills' time, when a refill is configured.
    fn new(
        caller: Caller,
        origin: Origin,
        req: CreateKeyRequest,
        now: i64,
        clock_now: i64,
    ) -> Creation {
        let byte_length = req.byte_length.unwrap_or(DEFAULT_BYTE_LENGTH);
        let material = key_material::generate(req.prefix.as_deref(), byte_length as usize);
        let (refill_amount, refill_day) =
            refill_columns(req.credits.as_ref().and_then(|c| c.refill.as_ref()));
        let credits = NewCredits {
            id: new_id("cred"),
            workspace_id: caller.workspace_id().to_owned(),
            remaining: req.credits.as_ref().and_then(|c| c.remaining),
            refill_amount,
            refill_day,
        };
        let key = NewKey {
            id: new_id("key"),
            workspace_id: caller.workspace_id().to_owned(),
            api_id: req.api_id,
            hash: material.hash.as_bytes().to_vec(),
            start: material.start.clone(),
            byte_length,
            name: req.name,
            // Found or created with the batch.
            identity_id: None,
            meta: req.meta.as_ref().map(meta_text),
            enabled: req.enabled.unwrap_or(true),
            expires_at: req.expires,
            credits_id: credits.id.clone(),
            created_at: now,
        };
        Creation {
            actor: Actor::root_key(&caller, origin),
            // The first refill is at the next period's start, not at once.
            refill_since: credits.refill_amount.map(|_| clock_now),
            caller,
            external_id: req.external_id,
            credits,
            key,
            material,
        }
    }

    fn answer(self) -> CreateKeyResponseData {
        CreateKeyResponseData {
            key_id: self.key.id,
            key: self.material.plaintext.into_string(),
        }
    }
}

/// The creations of one transaction, checked and staged, written together by
/// [`CreationBatch::insert`].
#[derive(Default)]
struct CreationBatch {
    /// `(workspace, API id)` → the live API, looked up once per batch.
    apis: HashMap<(String, String), Option<apis::ApiRecord>>,
    /// `(workspace, externalId)` → identity id, found or created once per batch.
    identities: HashMap<(String, String), String>,
    credits: Vec<NewCredits>,
    keys: Vec<NewKey>,
    /// Balances with a refill, and when it was configured.
    refills: Vec<(String, i64)>,
}

impl CreationBatch {
    /// Checks `creation`: its API exists in the caller's workspace and the caller may create
    /// keys in it. Reads only, so a refusal leaves nothing of it in the transaction.
    async fn check(&mut self, work: &mut Work, creation: &Creation) -> ApiResult<apis::ApiRecord> {
        let caller = &creation.caller;
        let workspace_id = caller.workspace_id();
        let api_key = (workspace_id.to_owned(), creation.key.api_id.clone());
        let api = match self.apis.get(&api_key) {
            Some(api) => api.clone(),
            None => {
                let api = apis::find_live(work.tx(), workspace_id, &creation.key.api_id).await?;
                self.apis.insert(api_key, api.clone());
                api
            }
        };
        // Deleted APIs take no new keys (Unkey allows it; see docs/API.md).
        let api = api.ok_or_else(|| ApiError::api_not_found(&creation.key.api_id))?;
        caller.require(Action::CreateKey, &Target::Api(&api.id))?;
        Ok(api)
    }

    /// Finds or creates the identities the checked `creations` name, each once, in one order
    /// (sorted): batches committing side by side (PostgreSQL) that share identities then wait
    /// for one another's rows rather than deadlock.
    async fn resolve_identities<'c>(
        &mut self,
        work: &mut Work,
        creations: impl Iterator<Item = &'c Creation>,
    ) -> ApiResult<()> {
        let wanted: BTreeSet<(String, String)> = creations
            .filter_map(|creation| {
                let external_id = creation.external_id.as_ref()?;
                Some((
                    creation.caller.workspace_id().to_owned(),
                    external_id.clone(),
                ))
            })
            .filter(|identity| !self.identities.contains_key(identity))
            .collect();
        for (workspace_id, external_id) in wanted {
            let id = identity_for(work, &workspace_id, &external_id).await?;
            self.identities.insert((workspace_id, external_id), id);
        }
        Ok(())
    }

    /// Stages the rows and audit event of `creation`, checked ([`CreationBatch::check`]) and its
    /// identity resolved ([`CreationBatch::resolve_identities`]).
    fn stage(&mut self, work: &mut Work, creation: &Creation, api: &apis::ApiRecord) {
        let workspace_id = creation.caller.workspace_id();
        let mut key = creation.key.clone();
        key.identity_id = creation.external_id.as_ref().map(|external_id| {
            self.identities[&(workspace_id.to_owned(), external_id.clone())].clone()
        });
        work.audit_as(
            &creation.actor,
            workspace_id,
            Event::KeyCreate,
            format!("Created {} in {}", key.id, api.id),
            vec![
                AuditTarget::new(TargetKind::Key, &key.id, key.name.as_deref()),
                AuditTarget::new(TargetKind::Api, &api.id, Some(&api.name)),
            ],
        );
        // Drop a cached "not found" for this hash, should anyone have tried it before it existed.
        work.invalidate_here(Invalidation::Key(creation.material.hash));
        self.credits.push(creation.credits.clone());
        if let Some(since) = creation.refill_since {
            self.refills.push((creation.credits.id.clone(), since));
        }
        self.keys.push(key);
    }

    /// Writes every staged row: two statements for the batch.
    async fn insert(&mut self, work: &mut Work) -> ApiResult<()> {
        keys::insert_credits_many(work.tx(), &self.credits).await?;
        keys::insert_many(work.tx(), &self.keys).await?;
        for (credits_id, since) in &self.refills {
            refills::configured(work.tx(), credits_id, *since).await?;
        }
        Ok(())
    }
}

/// Commits a batch of [`Creation`]s ([`crate::group_commit`]): each is checked on its own (a
/// missing API or permission answers that request alone, writing nothing), the rest are written
/// and committed together, then answered.
pub(crate) fn create_keys(
    keyward: Arc<Keyward>,
    batch: Vec<Pending<Creation, CreateKeyResponseData>>,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let mut work = match Work::begin(&keyward, Actor::system()).await {
            Ok(work) => work,
            Err(err) => return answer_all(batch, &err),
        };
        let mut staged = CreationBatch::default();
        // The requests that passed their checks, and each one's API.
        let mut accepted = Vec::with_capacity(batch.len());
        let mut apis = Vec::with_capacity(batch.len());
        for pending in batch {
            match staged.check(&mut work, &pending.request).await {
                Ok(api) => {
                    accepted.push(pending);
                    apis.push(api);
                }
                // A missing API or permission: the checks only read, so nothing of this
                // request is in the transaction.
                Err(err) if !err.is_server_error() => pending.answer(Err(err)),
                Err(err) => {
                    // The transaction itself failed: nothing of the batch can commit.
                    pending.answer(Err(err.clone()));
                    return answer_all(accepted, &err);
                }
            }
        }
        if accepted.is_empty() {
            return;
        }
        let creations = accepted.iter().map(|pending| &pending.request);
        if let Err(err) = staged.resolve_identities(&mut work, creations).await {
            return answer_all(accepted, &err);
        }
        for (pending, api) in accepted.iter().zip(&apis) {
            staged.stage(&mut work, &pending.request, api);
        }
        let committed = async {
            staged.insert(&mut work).await?;
            work.commit().await
        }
        .await;
        match committed {
            Ok(()) => {
                for pending in accepted {
                    pending.answer_with(|creation| Ok(creation.answer()));
                }
            }
            // A write that fails for one request of several (it should not happen: every id
            // and hash is new) must not fail the others: each is tried again alone.
            Err(err) if accepted.len() > 1 && !err.is_unavailable() => {
                for pending in accepted {
                    create_keys(Arc::clone(&keyward), vec![pending]).await;
                }
            }
            Err(err) => answer_all(accepted, &err),
        }
    })
}

pub async fn get_key(
    keyward: &Keyward,
    caller: &Caller,
    req: GetKeyRequest,
) -> ApiResult<KeyResponseData> {
    let mut conn = keyward.db.reader().await?;
    let row = find_key(&mut conn, caller, &req.key_id).await?;
    caller.require(Action::ReadKey, &on(&row))?;
    if req.decrypt == Some(true) {
        return Err(ApiError::new(
            ErrorCode::PreconditionFailed,
            "keyward never stores keys in recoverable form, so it cannot decrypt them. Omit decrypt.",
        ));
    }
    one_view(keyward, &mut conn, row).await
}

pub async fn whoami(
    keyward: &Keyward,
    caller: &Caller,
    req: WhoamiRequest,
) -> ApiResult<KeyResponseData> {
    let hash = KeyHash::of(&req.key);
    let mut conn = keyward.db.reader().await?;
    let row = keys::find_live_by_hash(&mut conn, hash.as_bytes()).await?;
    // Without read permission the answer is the same 404 as for an unknown key: the request
    // carries a secret, and a different status would tell whether it is a real key.
    match row {
        Some(row)
            if row.workspace_id == caller.workspace_id()
                && caller.may(Action::ReadKey, &on(&row)) =>
        {
            one_view(keyward, &mut conn, row).await
        }
        _ => Err(ApiError::new(
            ErrorCode::KeyNotFound,
            "No live key matches the key you sent in this workspace (or the root key may not read it).",
        )),
    }
}

pub async fn update_key(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: UpdateKeyRequest,
) -> ApiResult<Empty> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let key = lock_key(&mut work, caller, &req.key_id).await?;
    caller.require(Action::UpdateKey, &on(&key))?;
    if let Some(limits) = &req.ratelimits {
        set_ratelimits(
            &mut work,
            caller.workspace_id(),
            Owner::Key(&key.id),
            limits,
        )
        .await?;
    }
    if req.roles.is_some() || req.permissions.is_some() {
        give_grants(&mut work, caller, &key, req.roles, req.permissions, true).await?;
    }

    let mut patch = KeyPatch::default();
    let mut credits_patch = CreditsPatch::default();
    let mut changed = Vec::new();
    if let Some(name) = req.name.into_change() {
        patch.name = Some(name);
        changed.push("name");
    }
    if let Some(external_id) = req.external_id.into_change() {
        patch.identity_id = Some(match external_id {
            Some(external_id) => {
                Some(identity_for(&mut work, caller.workspace_id(), &external_id).await?)
            }
            None => None,
        });
        changed.push("externalId");
    }
    if let Some(meta) = req.meta.into_change() {
        patch.meta = Some(meta.as_ref().map(meta_text));
        changed.push("meta");
    }
    if let Some(expires) = req.expires.into_change() {
        patch.expires_at = Some(expires);
        changed.push("expires");
    }
    if let Some(enabled) = req.enabled {
        patch.enabled = Some(enabled);
        changed.push(if enabled { "enabled" } else { "disabled" });
    }
    if let Some(credits) = req.credits.into_change() {
        let credits = credits.unwrap_or(keyward_types::keys::UpdateCredits {
            remaining: Nullable::Null,
            refill: Nullable::Null,
        });
        if let Some(remaining) = credits.remaining.into_change() {
            credits_patch.remaining = Some(remaining);
            if remaining.is_none() {
                credits_patch.refill = Some(None);
            }
        }
        if let Some(refill) = credits.refill.into_change() {
            // The key and its balance are locked: it cannot become unlimited behind this check.
            let metered = credits_patch.remaining.unwrap_or(key.remaining).is_some();
            if refill.is_some() && !metered {
                return Err(ApiError::invalid_field(
                    "credits.refill",
                    "cannot refill a key with unlimited credits",
                    "set credits.remaining to a number in the same request",
                ));
            }
            let (amount, day) = refill_columns(refill.as_ref());
            credits_patch.refill = Some(amount.map(|amount| (amount, day)));
        }
        changed.push("credits");
    }
    if req.ratelimits.is_some() {
        changed.push("ratelimits");
    }

    keys::update(work.tx(), &key.id, &patch, now_ms()).await?;
    if credits_patch != CreditsPatch::default() {
        // The balance is every generation's of the key: all of them see the change.
        keys::update_credits(work.tx(), &key.credits_id, &credits_patch).await?;
        if matches!(credits_patch.refill, Some(Some(_))) {
            // A new refill acts from the next period's start.
            refills::configured(work.tx(), &key.credits_id, keyward.clock.now()).await?;
        }
        invalidate_sharing(&mut work, &key.credits_id).await?;
    }
    let description = if changed.is_empty() {
        format!("Updated {} (no fields changed)", key.id)
    } else {
        format!("Updated {}: {}", key.id, changed.join(", "))
    };
    let name = patch.name.clone().unwrap_or_else(|| key.name.clone());
    work.audit(
        caller.workspace_id(),
        Event::KeyUpdate,
        description,
        vec![AuditTarget::new(TargetKind::Key, &key.id, name.as_deref())],
    );
    invalidate(&mut work, &key);
    work.commit().await?;
    Ok(Empty {})
}

pub async fn update_credits(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: UpdateCreditsRequest,
) -> ApiResult<KeyCredits> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let key = lock_key(&mut work, caller, &req.key_id).await?;
    caller.require(Action::UpdateKey, &on(&key))?;
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
    let Some(after) = keys::change_credits(work.tx(), &key.id, change, now_ms()).await? else {
        return Err(ApiError::invalid_field(
            "operation",
            "cannot increment or decrement a key with unlimited credits",
            "use operation 'set' to give the key a limited number of credits first",
        ));
    };
    work.audit(
        caller.workspace_id(),
        Event::KeyUpdate,
        format!(
            "Updated credits of {}: {:?} {} → {}",
            key.id,
            req.operation,
            value.map_or("unlimited".to_string(), |v| v.to_string()),
            after
                .remaining
                .map_or("unlimited".to_string(), |v| v.to_string())
        ),
        vec![key_target(&key)],
    );
    invalidate_sharing(&mut work, &key.credits_id).await?;
    work.commit().await?;
    Ok(KeyCredits {
        remaining: after.remaining,
        refill: refill_view(after.refill_amount, after.refill_day, key.last_refill_at),
    })
}

pub async fn reroll_key(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: RerollKeyRequest,
) -> ApiResult<RerollKeyResponseData> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let old = lock_key(&mut work, caller, &req.key_id).await?;
    caller.require(Action::CreateKey, &on(&old))?;
    let now = now_ms();
    if let Some(expired_at) = old.expires_at.filter(|&at| at <= now) {
        return Err(ApiError::new(
            ErrorCode::PreconditionFailed,
            format!(
                "The key '{}' expired at {expired_at} (unix ms), and an expired key cannot be rerolled. \
                 Reroll the key that replaced it, if any, or create a new key with keys.createKey.",
                old.id
            ),
        ));
    }
    let new_key = key_material::generate(
        key_material::prefix_of(&old.start),
        old.byte_length as usize,
    );
    // The new key inherits everything but its secret, id and timestamps. Its balance is the old
    // key's own (`credits_id`), not a copy: both spend from it while the old key still works.
    let new_row = NewKey {
        id: new_id("key"),
        workspace_id: old.workspace_id.clone(),
        api_id: old.api_id.clone(),
        hash: new_key.hash.as_bytes().to_vec(),
        start: new_key.start.clone(),
        byte_length: old.byte_length,
        name: old.name.clone(),
        identity_id: old.identity_id.clone(),
        meta: old.meta.clone(),
        enabled: old.enabled,
        expires_at: old.expires_at,
        credits_id: old.credits_id.clone(),
        created_at: now,
    };
    keys::insert(work.tx(), &new_row).await?;
    // The new key holds what the old one holds: its direct permissions and its roles.
    let held = rbac::grants_of_keys(work.tx(), std::slice::from_ref(&old.id)).await?;
    let direct: Vec<String> = held
        .iter()
        .filter(|g| g.role_id.is_none())
        .filter_map(|g| g.permission_id.clone())
        .collect();
    let roles: Vec<String> = held
        .into_iter()
        .filter(|g| g.permission_id.is_none())
        .filter_map(|g| g.role_id)
        .collect();
    rbac::link(work.tx(), Link::KeyPermissions, &new_row.id, &direct, now).await?;
    rbac::link(work.tx(), Link::KeyRoles, &new_row.id, &roles, now).await?;
    // And its own rate limits, as copies (counted for the new key from zero: they count per key).
    let limits: Vec<RatelimitRequest> = ratelimits::limits_of(work.tx(), &[Owner::Key(&old.id)])
        .await?
        .into_iter()
        .map(|l| RatelimitRequest {
            name: l.name,
            limit: l.max_requests,
            duration: l.duration,
            auto_apply: l.auto_apply,
        })
        .collect();
    if !limits.is_empty() {
        set_ratelimits(
            &mut work,
            &old.workspace_id,
            Owner::Key(&new_row.id),
            &limits,
        )
        .await?;
    }
    // The old key keeps working for `expiration` ms (never longer than it already would);
    // `null` leaves its expiry as it is.
    let old_expires = match req.expiration.value() {
        Some(ms) => {
            let expires = now.saturating_add(*ms);
            let expires = old.expires_at.map_or(expires, |e| e.min(expires));
            let patch = KeyPatch {
                expires_at: Some(Some(expires)),
                ..KeyPatch::default()
            };
            keys::update(work.tx(), &old.id, &patch, now).await?;
            Some(expires)
        }
        None => old.expires_at,
    };
    work.audit(
        caller.workspace_id(),
        Event::KeyReroll,
        format!(
            "Rerolled {} as {}; the old key {}",
            old.id,
            new_row.id,
            old_expires.map_or("keeps working".to_string(), |e| format!("expires at {e}"))
        ),
        vec![
            key_target(&old),
            AuditTarget::new(TargetKind::Key, &new_row.id, new_row.name.as_deref()),
        ],
    );
    invalidate(&mut work, &old);
    // The new key's hash is fresh: forgetting a remembered absence of it matters here only.
    work.invalidate_here(Invalidation::Key(new_key.hash));
    work.commit().await?;
    Ok(RerollKeyResponseData {
        key_id: new_row.id,
        key: new_key.plaintext.into_string(),
    })
}

pub async fn delete_key(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: DeleteKeyRequest,
) -> ApiResult<Empty> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let permanent = req.permanent == Some(true);
    // A permanent delete also erases what a soft delete left: a key deleted before, or one whose
    // API was deleted. A soft delete of either finds nothing more to do (404, as in Unkey).
    let key = if permanent {
        keys::find_stored_by_id_for_update(work.tx(), caller.workspace_id(), &req.key_id)
            .await?
            .ok_or_else(|| ApiError::key_not_found(&req.key_id))?
    } else {
        lock_key(&mut work, caller, &req.key_id).await?
    };
    caller.require(Action::DeleteKey, &on(&key))?;
    if permanent {
        keys::hard_delete(work.tx(), &key.id).await?;
    } else {
        keys::soft_delete(work.tx(), &key.id, now_ms()).await?;
    }
    work.audit(
        caller.workspace_id(),
        Event::KeyDelete,
        if permanent {
            format!("Permanently deleted {}", key.id)
        } else {
            format!("Deleted {}", key.id)
        },
        vec![
            key_target(&key),
            AuditTarget::new(TargetKind::Api, &key.api_id, None),
        ],
    );
    invalidate(&mut work, &key);
    work.commit().await?;
    Ok(Empty {})
}
