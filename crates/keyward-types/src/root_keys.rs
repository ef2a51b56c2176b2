//! `rootKeys.*`: keys that authorize calls to this API. Unkey's names (`createKey`, `listKeys`,
//! `updateKey`, `rerollKey`, `deleteKey`) and keyward's earlier ones (`createRootKey`,
//! `listRootKeys`, `deleteRootKey`) take the same requests.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::keys::{MAX_TIMESTAMP_MS, expiration};
use crate::nullable::Nullable;
use crate::permissions;
use crate::validate::{Validate, Violations, charset};

fn permission_list(v: &mut Violations, list: &[String]) {
    v.items("permissions", list.len(), 1, 1000);
    for (i, p) in list.iter().enumerate() {
        if let Err(e) = permissions::check(p) {
            v.push(
                &format!("permissions[{i}]"),
                format!("'{p}' is not a permission: {e}"),
                Some(
                    "use the form api.*.verify_key or unkey:v1:<workspaceId>:<path>#<action>; docs/API.md lists every permission"
                        .to_string(),
                ),
            );
        }
    }
}

fn key_id(v: &mut Violations, value: &str) {
    v.pattern(
        "keyId",
        value,
        3,
        255,
        charset::id,
        "letters, digits and underscores",
    );
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRootKeyRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 255)]
    pub name: Option<String>,
    /// 1 to 1000 permission strings: tuples such as `api.*.verify_key`
    /// (`<resource>.<id or *>.<action>`) or URNs such as
    /// `unkey:v1:<workspaceId>:keyspaces/<apiId>/keys/*#verify_key` (docs/API.md lists them); a
    /// root key may only grant what it holds.
    #[schema(example = json!(["api.*.verify_key"]), min_items = 1, max_items = 1000)]
    pub permissions: Vec<String>,
    /// When the new key stops working, unix milliseconds, later than now; `null` or absent:
    /// never. A caller that expires must give a time no later than its own.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 4102444800000_i64)]
    pub expires: Nullable<i64>,
}

impl Validate for CreateRootKeyRequest {
    fn validate(&self, v: &mut Violations) {
        v.opt_length("name", self.name.as_deref(), 1, 255);
        permission_list(v, &self.permissions);
        if let Nullable::Value(expires) = self.expires {
            v.range("expires", expires, 0, MAX_TIMESTAMP_MS);
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRootKeyResponseData {
    pub key_id: String,
    /// The root key. This is the only time it is shown.
    pub key: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListRootKeysRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 1024)]
    pub cursor: Option<String>,
}

impl Validate for ListRootKeysRequest {
    fn validate(&self, v: &mut Violations) {
        if let Some(limit) = self.limit {
            v.range("limit", limit, 1, 100);
        }
        v.opt_length("cursor", self.cursor.as_deref(), 1, 1024);
    }
}

/// A root key as listed: never the secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RootKey {
    pub key_id: String,
    /// `null` when it has none.
    pub name: Option<String>,
    /// For recognising the key: `kwroot_` and 4 characters; a bootstrap key chosen by the
    /// operator shows only its first 4 characters.
    #[schema(example = "kwroot_3ZxP")]
    pub start: String,
    /// The key's last characters: always `""`, keyward records no suffix of a secret.
    pub end: String,
    /// Whether it authenticates requests (a disabled key is answered 403).
    pub enabled: bool,
    pub created_at: i64,
    /// When it last authenticated a request, unix ms to the minute; 0: never.
    pub last_used_at: i64,
    /// When it stops working, unix ms; `null`: never.
    pub expires: Option<i64>,
    /// The permission strings it holds, as granted.
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteRootKeyRequest {
    #[schema(min_length = 3, max_length = 255, pattern = "^[a-zA-Z0-9_]+$")]
    pub key_id: String,
}

impl Validate for DeleteRootKeyRequest {
    fn validate(&self, v: &mut Violations) {
        key_id(v, &self.key_id);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateRootKeyRequest {
    #[schema(min_length = 3, max_length = 255, pattern = "^[a-zA-Z0-9_]+$")]
    pub key_id: String,
    /// A new name; `null` removes it.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 255)]
    pub name: Nullable<String>,
    /// `false` refuses every request made with the key (403) until set back to `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Replaces every permission of the key (1 to 1000); each must be one the caller holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["api.*.verify_key"]), min_items = 1, max_items = 1000)]
    pub permissions: Option<Vec<String>>,
}

impl Validate for UpdateRootKeyRequest {
    fn validate(&self, v: &mut Violations) {
        key_id(v, &self.key_id);
        if let Nullable::Value(name) = &self.name {
            v.length("name", name, 1, 255);
        }
        if let Some(permissions) = &self.permissions {
            permission_list(v, permissions);
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RerollRootKeyRequest {
    #[schema(min_length = 3, max_length = 255, pattern = "^[a-zA-Z0-9_]+$")]
    pub key_id: String,
    /// Milliseconds the old key keeps working; 0 revokes it at once, `null` leaves it as it is.
    /// Required.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 4102444800000_i64)]
    pub expiration: Nullable<i64>,
}

impl Validate for RerollRootKeyRequest {
    fn validate(&self, v: &mut Violations) {
        key_id(v, &self.key_id);
        expiration(v, &self.expiration);
    }
}
