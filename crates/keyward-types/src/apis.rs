//! `apis.*`: API namespaces, the containers of keys.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validate::{Validate, Violations, charset};

const ID_CHARS: &str = "letters, digits and underscores";

pub(crate) fn api_id(v: &mut Violations, value: &str, min: usize) {
    v.pattern("apiId", value, min, 255, charset::id, ID_CHARS);
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiRequest {
    /// A name for the API, 3 to 256 characters.
    #[schema(example = "payments-production", min_length = 3, max_length = 256)]
    pub name: String,
}

impl Validate for CreateApiRequest {
    fn validate(&self, v: &mut Violations) {
        v.length("name", &self.name, 3, 256);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateApiResponseData {
    /// The new API's id (`api_…`).
    pub api_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetApiRequest {
    #[schema(
        example = "api_1234abcd",
        min_length = 8,
        max_length = 255,
        pattern = "^[a-zA-Z0-9_]+$"
    )]
    pub api_id: String,
}

impl Validate for GetApiRequest {
    fn validate(&self, v: &mut Violations) {
        api_id(v, &self.api_id, 8);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetApiResponseData {
    pub id: String,
    pub name: String,
    /// Whether `apis.deleteApi` is refused until protection is switched off (keyward extension).
    pub delete_protection: bool,
}

/// keyward extension: rename an API or switch its delete protection (send `name`,
/// `deleteProtection` or both).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateApiRequest {
    #[schema(
        example = "api_1234abcd",
        min_length = 8,
        max_length = 255,
        pattern = "^[a-zA-Z0-9_]+$"
    )]
    pub api_id: String,
    /// A new name, 3 to 256 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 3, max_length = 256)]
    pub name: Option<String>,
    /// `true` makes `apis.deleteApi` answer 412 until it is switched off again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_protection: Option<bool>,
}

impl Validate for UpdateApiRequest {
    fn validate(&self, v: &mut Violations) {
        api_id(v, &self.api_id, 8);
        v.opt_length("name", self.name.as_deref(), 3, 256);
        if self.name.is_none() && self.delete_protection.is_none() {
            v.push(
                "name",
                "nothing to update",
                Some("send `name`, `deleteProtection` or both".to_string()),
            );
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteApiRequest {
    /// The API to delete, with all its keys.
    #[schema(
        example = "api_1234abcd",
        min_length = 8,
        max_length = 255,
        pattern = "^[a-zA-Z0-9_]+$"
    )]
    pub api_id: String,
    /// keyward extension: erase the API and every key it holds (deleted ones too), their hashes
    /// and metadata, for good, instead of keeping the records (default false). Also erases an
    /// API deleted before. Audit events stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permanent: Option<bool>,
}

impl Validate for DeleteApiRequest {
    fn validate(&self, v: &mut Violations) {
        api_id(v, &self.api_id, 8);
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListKeysRequest {
    /// An id no API can have (characters other than letters, digits and `_`, or longer than
    /// 255) is refused with 400 rather than answered 404 as Unkey does (docs/API.md).
    #[schema(
        example = "api_1234abcd",
        min_length = 1,
        max_length = 255,
        pattern = "^[a-zA-Z0-9_]+$"
    )]
    pub api_id: String,
    /// Page size, 1 to 100 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `pagination.cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 1024)]
    pub cursor: Option<String>,
    /// Only keys of this identity (your user or customer id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 255)]
    pub external_id: Option<String>,
    /// Return plaintext keys. keyward never stores plaintext, so `true` is refused with 412.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decrypt: Option<bool>,
    /// Accepted for compatibility; keyward's cache is always coherent on the serving node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revalidate_keys_cache: Option<bool>,
}

impl Validate for ListKeysRequest {
    fn validate(&self, v: &mut Violations) {
        api_id(v, &self.api_id, 1);
        if let Some(limit) = self.limit {
            v.range("limit", limit, 1, 100);
        }
        v.opt_length("cursor", self.cursor.as_deref(), 1, 1024);
        v.opt_length("externalId", self.external_id.as_deref(), 1, 255);
    }
}
