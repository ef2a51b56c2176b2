//! `rootKeys.*` (keyward extension): keys that authorize calls to this API.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::permissions;
use crate::validate::{Validate, Violations, charset};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRootKeyRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 255)]
    pub name: Option<String>,
    /// 1 to 1000 permission strings such as `api.*.verify_key` (`<resource>.<id or *>.<action>`,
    /// docs/API.md lists them); a root key may only grant what it holds.
    #[schema(example = json!(["api.*.verify_key"]), min_items = 1, max_items = 1000)]
    pub permissions: Vec<String>,
}

impl Validate for CreateRootKeyRequest {
    fn validate(&self, v: &mut Violations) {
        v.opt_length("name", self.name.as_deref(), 1, 255);
        v.items("permissions", self.permissions.len(), 1, 1000);
        for (i, p) in self.permissions.iter().enumerate() {
            if let Err(e) = permissions::check(p) {
                v.push(
                    &format!("permissions[{i}]"),
                    format!("'{p}' is not a permission: {e}"),
                    Some(
                        "use the form api.*.verify_key; docs/API.md lists every permission"
                            .to_string(),
                    ),
                );
            }
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
    /// For recognising the key: `kwroot_` and 4 characters; a bootstrap key chosen by the
    /// operator shows only its first 4 characters.
    #[schema(example = "kwroot_3ZxP")]
    pub start: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub permissions: Vec<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteRootKeyRequest {
    #[schema(min_length = 3, max_length = 255, pattern = "^[a-zA-Z0-9_]+$")]
    pub key_id: String,
}

impl Validate for DeleteRootKeyRequest {
    fn validate(&self, v: &mut Violations) {
        v.pattern(
            "keyId",
            &self.key_id,
            3,
            255,
            charset::id,
            "letters, digits and underscores",
        );
    }
}
