//! `keys.*`: issuing, reading, changing, verifying and revoking keys.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::apis::api_id;
use crate::nullable::Nullable;
use crate::validate::{Validate, Violations, charset};

/// Latest accepted expiry: 2100-01-01T00:00:00Z in unix milliseconds.
pub const MAX_TIMESTAMP_MS: i64 = 4_102_444_800_000;
/// Largest credit balance: the largest integer a JavaScript client reads exactly (2^53 - 1).
pub const MAX_CREDITS: i64 = 9_007_199_254_740_991;
/// Most properties a `meta` object may have.
pub const MAX_META_PROPERTIES: usize = 100;

const ID_CHARS: &str = "letters, digits and underscores";
const EXTERNAL_ID_CHARS: &str = "letters, digits, '_', '.' and '-'";

fn key_id(v: &mut Violations, value: &str) {
    v.pattern("keyId", value, 3, 255, charset::id, ID_CHARS);
}

fn external_id(v: &mut Violations, value: &str) {
    v.pattern(
        "externalId",
        value,
        1,
        255,
        charset::external_id,
        EXTERNAL_ID_CHARS,
    );
}

fn meta(v: &mut Violations, value: &Map<String, Value>) {
    if value.len() > MAX_META_PROPERTIES {
        v.push(
            "meta",
            format!(
                "may have at most {MAX_META_PROPERTIES} properties, got {}",
                value.len()
            ),
            None,
        );
    }
}

fn expires(v: &mut Violations, value: i64) {
    v.range("expires", value, 0, MAX_TIMESTAMP_MS);
}

// ---------------------------------------------------------------------------------------------
// Shared shapes

/// How often credits are refilled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RefillInterval {
    Daily,
    Monthly,
}

/// Automatic refill of a key's credits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreditsRefill {
    pub interval: RefillInterval,
    /// Credits are reset to this amount at each refill (at least 1).
    #[schema(minimum = 1, maximum = 9007199254740991_i64)]
    pub amount: i64,
    /// Day of the month of a monthly refill, 1 to 31 (default 1; the last day of shorter
    /// months when larger). Not allowed with `daily`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 31)]
    pub refill_day: Option<i64>,
    /// When the credits were last refilled, unix ms (in answers only; absent until the first
    /// refill). keyward extension, as Unkey's v1 `refill.lastRefillAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(read_only)]
    pub last_refill_at: Option<i64>,
}

fn refill(v: &mut Violations, field: &str, r: &CreditsRefill) {
    v.range(&format!("{field}.amount"), r.amount, 1, MAX_CREDITS);
    if r.last_refill_at.is_some() {
        v.push(
            &format!("{field}.lastRefillAt"),
            "is set by keyward when it refills, not by requests",
            Some("remove lastRefillAt".to_string()),
        );
    }
    match (r.interval, r.refill_day) {
        (RefillInterval::Daily, Some(_)) => v.push(
            &format!("{field}.refillDay"),
            "is only allowed with interval 'monthly'",
            Some("remove refillDay or set interval to 'monthly'".to_string()),
        ),
        (RefillInterval::Monthly, Some(day)) => v.range(&format!("{field}.refillDay"), day, 1, 31),
        _ => {}
    }
}

/// A key's credits: how many verifications it has left, and how they refill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyCredits {
    /// Remaining credits; `null` means unlimited. With `refill`, a number.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    pub remaining: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refill: Option<CreditsRefill>,
}

fn credits(v: &mut Violations, c: &KeyCredits) {
    if let Some(remaining) = c.remaining {
        v.range("credits.remaining", remaining, 0, MAX_CREDITS);
    }
    if let Some(r) = &c.refill {
        if c.remaining.is_none() {
            v.push(
                "credits.refill",
                "needs a limited number of credits to refill",
                Some("set credits.remaining to a number, or remove credits.refill".to_string()),
            );
        }
        refill(v, "credits.refill", r);
    }
}

/// A rate limit to attach to a key or identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RatelimitRequest {
    #[schema(min_length = 3, max_length = 128)]
    pub name: String,
    /// Cost admitted per window.
    #[schema(minimum = 1, maximum = 9007199254740991_i64)]
    pub limit: i64,
    /// Window length in milliseconds, 1000 to 2592000000 (30 days).
    #[schema(minimum = 1000, maximum = 2592000000_i64)]
    pub duration: i64,
    /// Whether every verification applies it (cost 1); otherwise only those naming it.
    #[serde(default)]
    pub auto_apply: bool,
}

/// Most rate limits a key or an identity may have.
pub const MAX_RATELIMITS: usize = 50;
/// Longest rate-limit window: 30 days, in ms.
pub const MAX_RATELIMIT_DURATION: i64 = 2_592_000_000;

/// The `ratelimits` of a createKey, updateKey, createIdentity or updateIdentity request: at most
/// 50, names unique.
pub fn ratelimits(v: &mut Violations, limits: &[RatelimitRequest]) {
    v.items("ratelimits", limits.len(), 0, MAX_RATELIMITS);
    for (i, r) in limits.iter().enumerate() {
        v.length(&format!("ratelimits[{i}].name"), &r.name, 3, 128);
        v.range(&format!("ratelimits[{i}].limit"), r.limit, 1, MAX_CREDITS);
        v.range(
            &format!("ratelimits[{i}].duration"),
            r.duration,
            1000,
            MAX_RATELIMIT_DURATION,
        );
        if limits[..i].iter().any(|earlier| earlier.name == r.name) {
            v.push(
                &format!("ratelimits[{i}].name"),
                format!("'{}' is given twice; names are unique", r.name),
                Some("merge the two limits or rename one".to_string()),
            );
        }
    }
}

/// A rate limit as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RatelimitResponse {
    pub id: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    pub auto_apply: bool,
}

/// The identity (your user or customer) a key belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub id: String,
    pub external_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratelimits: Option<Vec<RatelimitResponse>>,
}

/// A key as returned by `keys.getKey`, `keys.whoami` and `apis.listKeys`. Never the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyResponseData {
    pub key_id: String,
    /// For recognising the key in a list: its prefix, `_` and the first 4 characters after it
    /// (no prefix: its first 4 characters).
    pub start: String,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<KeyCredits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratelimits: Option<Vec<RatelimitResponse>>,
}

// ---------------------------------------------------------------------------------------------
// keys.createKey

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// The API the key belongs to.
    #[schema(
        example = "api_1234abcd",
        min_length = 3,
        max_length = 255,
        pattern = "^[a-zA-Z0-9_]+$"
    )]
    pub api_id: String,
    /// Prepended to the key with an underscore (`sk_…`), 1 to 16 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        example = "sk",
        min_length = 1,
        max_length = 16,
        pattern = "^[a-zA-Z0-9_]+$"
    )]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 255)]
    pub name: Option<String>,
    /// Random bytes in the key, 16 to 255 (default 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 16, maximum = 255)]
    pub byte_length: Option<i64>,
    /// Your id for the user or customer who owns the key; links the key to an identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        example = "user_123",
        min_length = 1,
        max_length = 255,
        pattern = "^[a-zA-Z0-9_.-]+$"
    )]
    pub external_id: Option<String>,
    /// Any JSON object of up to 100 properties, returned with every verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
    /// Names of roles the key holds (at most 100); each must exist (404 otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["support.readonly"]), max_items = 100)]
    pub roles: Option<Vec<String>>,
    /// Slugs of permissions the key holds directly (at most 1000); missing ones are created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["documents.read"]), max_items = 1000)]
    pub permissions: Option<Vec<String>>,
    /// When the key stops working, unix milliseconds (at most 2100-01-01); must be later than
    /// the server's time (400 otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 4102444800000_i64)]
    pub expires: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<KeyCredits>,
    /// Rate limits of the key (at most 50, names unique); see docs/API.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 50)]
    pub ratelimits: Option<Vec<RatelimitRequest>>,
    /// Whether the key can be used right away (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Store the key encrypted so it can be shown again. keyward never stores plaintext, so
    /// `true` is refused with 412.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recoverable: Option<bool>,
}

impl Validate for CreateKeyRequest {
    fn validate(&self, v: &mut Violations) {
        api_id(v, &self.api_id, 3);
        if let Some(prefix) = &self.prefix {
            v.pattern("prefix", prefix, 1, 16, charset::id, ID_CHARS);
        }
        v.opt_length("name", self.name.as_deref(), 1, 255);
        if let Some(n) = self.byte_length {
            v.range("byteLength", n, 16, 255);
        }
        if let Some(id) = &self.external_id {
            external_id(v, id);
        }
        if let Some(m) = &self.meta {
            meta(v, m);
        }
        if let Some(e) = self.expires {
            expires(v, e);
        }
        if let Some(c) = &self.credits {
            credits(v, c);
        }
        if let Some(r) = &self.ratelimits {
            ratelimits(v, r);
        }
        grants(v, self.roles.as_deref(), self.permissions.as_deref());
    }
}

/// The roles and permissions a key is given.
fn grants(v: &mut Violations, roles: Option<&[String]>, permissions: Option<&[String]>) {
    if let Some(roles) = roles {
        crate::rbac::role_names(v, "roles", roles, 0);
    }
    if let Some(permissions) = permissions {
        crate::rbac::slugs(v, "permissions", permissions, 0);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeyResponseData {
    pub key_id: String,
    /// The key itself. This is the only time it is shown: give it to your customer now.
    pub key: String,
}

// ---------------------------------------------------------------------------------------------
// keys.getKey, keys.whoami, keys.deleteKey

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetKeyRequest {
    #[schema(
        example = "key_1234abcd",
        min_length = 3,
        max_length = 255,
        pattern = "^[a-zA-Z0-9_]+$"
    )]
    pub key_id: String,
    /// Return the plaintext key. keyward never stores plaintext, so `true` is refused with 412.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decrypt: Option<bool>,
}

impl Validate for GetKeyRequest {
    fn validate(&self, v: &mut Violations) {
        key_id(v, &self.key_id);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WhoamiRequest {
    /// The key itself, as your customer sent it.
    #[schema(min_length = 1, max_length = 512)]
    pub key: String,
}

impl Validate for WhoamiRequest {
    fn validate(&self, v: &mut Violations) {
        v.length("key", &self.key, 1, 512);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteKeyRequest {
    /// The key's id (`key_…`), not the key itself.
    #[schema(
        example = "key_1234abcd",
        min_length = 3,
        max_length = 255,
        pattern = "^[a-zA-Z0-9_]+$"
    )]
    pub key_id: String,
    /// Erase the key and its hash for good instead of keeping the record (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permanent: Option<bool>,
}

impl Validate for DeleteKeyRequest {
    fn validate(&self, v: &mut Violations) {
        key_id(v, &self.key_id);
    }
}

// ---------------------------------------------------------------------------------------------
// keys.updateKey

/// Credits in an update: each field absent = unchanged, `null` = cleared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCredits {
    /// `null` makes credits unlimited (and clears the refill).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 9007199254740991_i64)]
    pub remaining: Nullable<i64>,
    /// `null` removes the refill; a refill needs `remaining` not to be `null`.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    #[schema(value_type = Option<CreditsRefill>)]
    pub refill: Nullable<CreditsRefill>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateKeyRequest {
    #[schema(
        example = "key_1234abcd",
        min_length = 3,
        max_length = 255,
        pattern = "^[a-zA-Z0-9_]+$"
    )]
    pub key_id: String,
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 255)]
    pub name: Nullable<String>,
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 255, pattern = "^[a-zA-Z0-9_.-]+$")]
    pub external_id: Nullable<String>,
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub meta: Nullable<Map<String, Value>>,
    /// When the key stops working, unix milliseconds; `null` = never. A past time expires the
    /// key at once.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 4102444800000_i64)]
    pub expires: Nullable<i64>,
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    #[schema(value_type = Option<UpdateCredits>)]
    pub credits: Nullable<UpdateCredits>,
    /// Rate limits of the key (at most 50, names unique); see docs/API.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 50)]
    pub ratelimits: Option<Vec<RatelimitRequest>>,
    /// `false` disables the key (verifications answer DISABLED) until set back to `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Replaces the key's roles (names, at most 100; `[]` removes them all); each must exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["support.readonly"]), max_items = 100)]
    pub roles: Option<Vec<String>>,
    /// Replaces the key's direct permissions (slugs, at most 1000; `[]` removes them all);
    /// missing ones are created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["documents.read"]), max_items = 1000)]
    pub permissions: Option<Vec<String>>,
}

impl Validate for UpdateKeyRequest {
    fn validate(&self, v: &mut Violations) {
        key_id(v, &self.key_id);
        grants(v, self.roles.as_deref(), self.permissions.as_deref());
        if let Some(r) = &self.ratelimits {
            ratelimits(v, r);
        }
        if let Nullable::Value(name) = &self.name {
            v.length("name", name, 1, 255);
        }
        if let Nullable::Value(id) = &self.external_id {
            external_id(v, id);
        }
        if let Nullable::Value(m) = &self.meta {
            meta(v, m);
        }
        if let Nullable::Value(e) = self.expires {
            expires(v, e);
        }
        if let Nullable::Value(c) = &self.credits {
            if let Nullable::Value(remaining) = c.remaining {
                v.range("credits.remaining", remaining, 0, MAX_CREDITS);
            }
            if let Nullable::Value(r) = &c.refill {
                if matches!(c.remaining, Nullable::Null) {
                    v.push(
                        "credits.refill",
                        "cannot refill unlimited credits",
                        Some(
                            "set credits.remaining to a number, or remove credits.refill"
                                .to_string(),
                        ),
                    );
                }
                refill(v, "credits.refill", r);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// keys.updateCredits

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CreditsOperation {
    Set,
    Increment,
    Decrement,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCreditsRequest {
    #[schema(
        example = "key_1234abcd",
        min_length = 3,
        max_length = 255,
        pattern = "^[a-zA-Z0-9_]+$"
    )]
    pub key_id: String,
    pub operation: CreditsOperation,
    /// The amount; required for `increment` and `decrement`. With `set`, absent or `null` makes
    /// credits unlimited (and removes the refill), as in Unkey's spec.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 9007199254740991_i64)]
    pub value: Nullable<i64>,
}

impl Validate for UpdateCreditsRequest {
    fn validate(&self, v: &mut Violations) {
        key_id(v, &self.key_id);
        match (&self.value, self.operation) {
            (Nullable::Value(n), _) => v.range("value", *n, 0, MAX_CREDITS),
            (_, CreditsOperation::Increment | CreditsOperation::Decrement) => v.push(
                "value",
                "is required for increment and decrement",
                Some("send the number of credits to add or remove".to_string()),
            ),
            (Nullable::Absent | Nullable::Null, CreditsOperation::Set) => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// keys.rerollKey

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RerollKeyRequest {
    #[schema(
        example = "key_1234abcd",
        min_length = 3,
        max_length = 255,
        pattern = "^[a-zA-Z0-9_]+$"
    )]
    pub key_id: String,
    /// Milliseconds the old key keeps working; 0 revokes it at once, `null` leaves it as it is
    /// (working until its own expiry, if any). Required.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 4102444800000_i64)]
    pub expiration: Nullable<i64>,
}

impl Validate for RerollKeyRequest {
    fn validate(&self, v: &mut Violations) {
        key_id(v, &self.key_id);
        expiration(v, &self.expiration);
    }
}

/// The required, nullable `expiration` of a reroll.
pub(crate) fn expiration(v: &mut Violations, value: &Nullable<i64>) {
    match value {
        Nullable::Value(ms) => v.range("expiration", *ms, 0, MAX_TIMESTAMP_MS),
        Nullable::Null => {}
        Nullable::Absent => v.push(
            "expiration",
            "is required",
            Some(
                "send the milliseconds the old key keeps working (0: revoke it now), or null to leave it as it is"
                    .to_string(),
            ),
        ),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RerollKeyResponseData {
    /// The id of the new key.
    pub key_id: String,
    /// The new key. This is the only time it is shown.
    pub key: String,
}

// ---------------------------------------------------------------------------------------------
// keys.verifyKey

/// Credits to spend on this verification.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyCredits {
    /// Credits this request costs, 0 to 10^12. A key without enough left is not charged.
    #[schema(minimum = 0, maximum = 1000000000000_i64)]
    pub cost: i64,
}

/// Largest cost (and ad-hoc limit) a verification's rate limit takes: 10^12, like credits.
pub const MAX_RATELIMIT_COST: i64 = 1_000_000_000_000;

/// A rate limit to apply to this verification.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyRatelimit {
    #[schema(min_length = 3, max_length = 255)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub cost: Option<i64>,
    /// With `duration`, an ad-hoc limit of this name, counted per key (the key's or identity's
    /// limit of the name is then not used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub limit: Option<i64>,
    /// Window of an ad-hoc limit, ms: 1000 to 2592000000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub duration: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyKeyRequest {
    /// The key your customer sent you.
    #[schema(min_length = 1, max_length = 512)]
    pub key: String,
    /// Labels recorded with the verification, up to 20 of 1 to 512 characters (`path=/v1/x`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
    /// A permission query the key must satisfy: permission names combined with `AND`, `OR`
    /// and parentheses, e.g. `documents.read AND (documents.write OR admin.all)`. One that does
    /// not parse is answered 400 (`permissions_query_syntax_error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 1000)]
    pub permissions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<VerifyCredits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratelimits: Option<Vec<VerifyRatelimit>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 256)]
    pub migration_id: Option<String>,
    /// Only keys of these keyspaces (API ids) verify; a key of another answers `NOT_FOUND` and
    /// spends nothing. 1 to 100 ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["api_1234abcd"]), min_items = 1, max_items = 100)]
    pub keyspaces: Option<Vec<String>>,
}

impl Validate for VerifyKeyRequest {
    fn validate(&self, v: &mut Violations) {
        v.length("key", &self.key, 1, 512);
        if let Some(tags) = &self.tags {
            v.items("tags", tags.len(), 0, 20);
            for (i, tag) in tags.iter().enumerate() {
                v.length(&format!("tags[{i}]"), tag, 1, 512);
            }
        }
        v.opt_length("permissions", self.permissions.as_deref(), 1, 1000);
        if let Some(c) = &self.credits {
            v.range("credits.cost", c.cost, 0, 1_000_000_000_000);
        }
        if let Some(limits) = &self.ratelimits {
            for (i, r) in limits.iter().enumerate() {
                v.length(&format!("ratelimits[{i}].name"), &r.name, 3, 255);
                for (field, value) in [
                    ("cost", r.cost),
                    ("limit", r.limit),
                    ("duration", r.duration),
                ] {
                    if let Some(n) = value {
                        v.range(
                            &format!("ratelimits[{i}].{field}"),
                            n,
                            0,
                            MAX_RATELIMIT_COST,
                        );
                    }
                }
                if let (Some(_), Some(duration)) = (r.limit, r.duration) {
                    // An ad-hoc limit: its window is bounded as a stored one's is.
                    v.range(
                        &format!("ratelimits[{i}].duration"),
                        duration,
                        1000,
                        MAX_RATELIMIT_DURATION,
                    );
                }
            }
        }
        v.opt_length("migrationId", self.migration_id.as_deref(), 1, 256);
        if let Some(keyspaces) = &self.keyspaces {
            v.items("keyspaces", keyspaces.len(), 1, 100);
            for (i, id) in keyspaces.iter().enumerate() {
                v.pattern(
                    &format!("keyspaces[{i}]"),
                    id,
                    1,
                    255,
                    charset::id,
                    ID_CHARS,
                );
            }
        }
    }
}

/// The outcome of a verification. Every outcome is answered with HTTP 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerifyCode {
    Valid,
    NotFound,
    Forbidden,
    InsufficientPermissions,
    UsageExceeded,
    RateLimited,
    Disabled,
    Expired,
}

impl VerifyCode {
    pub const ALL: [VerifyCode; 8] = [
        VerifyCode::Valid,
        VerifyCode::NotFound,
        VerifyCode::Forbidden,
        VerifyCode::InsufficientPermissions,
        VerifyCode::UsageExceeded,
        VerifyCode::RateLimited,
        VerifyCode::Disabled,
        VerifyCode::Expired,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            VerifyCode::Valid => "VALID",
            VerifyCode::NotFound => "NOT_FOUND",
            VerifyCode::Forbidden => "FORBIDDEN",
            VerifyCode::InsufficientPermissions => "INSUFFICIENT_PERMISSIONS",
            VerifyCode::UsageExceeded => "USAGE_EXCEEDED",
            VerifyCode::RateLimited => "RATE_LIMITED",
            VerifyCode::Disabled => "DISABLED",
            VerifyCode::Expired => "EXPIRED",
        }
    }
}

/// The state of one rate limit after a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRatelimitResult {
    pub exceeded: bool,
    /// The limit's id (`rl_…`); `""` for an ad-hoc limit, as Unkey answers.
    pub id: String,
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    /// When the window resets, unix milliseconds.
    pub reset: i64,
    pub remaining: i64,
    pub auto_apply: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyKeyResponseData {
    /// Whether the request may proceed: `code` is `VALID`.
    pub valid: bool,
    pub code: VerifyCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The key's keyspace: its API's id. Absent with `NOT_FOUND`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub keyspace_id: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    // JSON text serialized once per cache entry and shared by every answer: serializing a meta
    // object anew on each verification was the largest user-space cost of answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Arc<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// Credits left after this verification; absent when unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Every permission of the key, direct and through its roles (slugs, sorted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    /// The key's roles (names, sorted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // An `Identity` serialized once per cache entry, like `meta`.
    #[schema(value_type = Option<Identity>)]
    pub identity: Option<Arc<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratelimits: Option<Vec<VerifyRatelimitResult>>,
}

impl VerifyKeyResponseData {
    /// The bare answer for an unknown key: nothing but `valid` and `code`.
    pub fn not_found() -> Self {
        Self {
            valid: false,
            code: VerifyCode::NotFound,
            key_id: None,
            keyspace_id: None,
            name: None,
            meta: None,
            expires: None,
            credits: None,
            enabled: None,
            permissions: None,
            roles: None,
            identity: None,
            ratelimits: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(r: &impl Validate) -> Vec<String> {
        let mut v = Violations::new();
        r.validate(&mut v);
        v.into_errors()
            .into_iter()
            .map(|e| format!("{}: {}", e.location, e.message))
            .collect()
    }

    #[test]
    fn create_key_limits() {
        let ok = CreateKeyRequest {
            api_id: "api_123".into(),
            ..Default::default()
        };
        assert!(problems(&ok).is_empty());
        let bad = CreateKeyRequest {
            api_id: "a".into(),
            prefix: Some("way_too_long_prefix_x".into()),
            byte_length: Some(8),
            external_id: Some("has space".into()),
            expires: Some(-1),
            credits: Some(KeyCredits {
                remaining: None,
                refill: Some(CreditsRefill {
                    interval: RefillInterval::Daily,
                    amount: 0,
                    refill_day: Some(3),
                    last_refill_at: Some(1),
                }),
            }),
            ratelimits: Some(vec![
                RatelimitRequest {
                    name: "ab".into(),
                    limit: 0,
                    duration: 999,
                    auto_apply: true,
                },
                RatelimitRequest {
                    name: "ab".into(),
                    limit: 1,
                    duration: MAX_RATELIMIT_DURATION + 1,
                    auto_apply: false,
                },
            ]),
            ..Default::default()
        };
        let p = problems(&bad);
        for expected in [
            "body.apiId",
            "body.prefix",
            "body.byteLength",
            "body.externalId",
            "body.expires",
            "body.credits.refill",
            "body.credits.refill.amount",
            "body.credits.refill.refillDay",
            "body.credits.refill.lastRefillAt",
            "body.ratelimits[0].name",
            "body.ratelimits[0].limit",
            "body.ratelimits[0].duration",
            "body.ratelimits[1].duration",
        ] {
            assert!(
                p.iter().any(|m| m.starts_with(&format!("{expected}:"))),
                "{expected} in {p:?}"
            );
        }
    }

    #[test]
    fn update_key_is_tri_state() {
        let r: UpdateKeyRequest =
            serde_json::from_str(r#"{"keyId":"key_1","name":null,"credits":{"remaining":5}}"#)
                .unwrap();
        assert_eq!(r.name, Nullable::Null);
        assert_eq!(r.external_id, Nullable::Absent);
        let credits = r.credits.value().unwrap();
        assert_eq!(credits.remaining, Nullable::Value(5));
        assert_eq!(credits.refill, Nullable::Absent);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let r = serde_json::from_str::<DeleteKeyRequest>(r#"{"keyId":"key_1","perm":true}"#);
        assert!(r.unwrap_err().to_string().contains("unknown field `perm`"));
    }

    #[test]
    fn update_credits_needs_a_value_to_add() {
        let r: UpdateCreditsRequest =
            serde_json::from_str(r#"{"keyId":"key_1","operation":"increment"}"#).unwrap();
        assert_eq!(
            problems(&r),
            vec!["body.value: is required for increment and decrement"]
        );
        let r: UpdateCreditsRequest =
            serde_json::from_str(r#"{"keyId":"key_1","operation":"decrement","value":null}"#)
                .unwrap();
        assert_eq!(
            problems(&r),
            vec!["body.value: is required for increment and decrement"]
        );
        for unlimited in [
            r#"{"keyId":"key_1","operation":"set","value":null}"#,
            r#"{"keyId":"key_1","operation":"set"}"#,
        ] {
            let r: UpdateCreditsRequest = serde_json::from_str(unlimited).unwrap();
            assert!(problems(&r).is_empty(), "{unlimited}");
        }
    }

    #[test]
    fn verify_limits() {
        let r = VerifyKeyRequest {
            key: String::new(),
            tags: Some(vec!["a".into(); 21]),
            credits: Some(VerifyCredits { cost: -1 }),
            ..Default::default()
        };
        let p = problems(&r);
        assert!(p.contains(&"body.key: must not be empty".to_string()));
        assert!(p.contains(&"body.tags: may hold at most 20 items, got 21".to_string()));
        assert!(p.iter().any(|m| m.starts_with("body.credits.cost")));
    }

    #[test]
    fn not_found_carries_only_valid_and_code() {
        let text = serde_json::to_string(&VerifyKeyResponseData::not_found()).unwrap();
        assert_eq!(text, r#"{"valid":false,"code":"NOT_FOUND"}"#);
    }
}
