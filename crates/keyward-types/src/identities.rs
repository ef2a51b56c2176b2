//! `identities.*`: your users or customers, named by your own `externalId`; keys linked to one
//! carry its `meta` in every verification.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::keys::{MAX_META_PROPERTIES, RatelimitRequest};
use crate::validate::{Validate, Violations, charset};

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

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateIdentityRequest {
    /// Your id for the user or customer, unique among the workspace's identities (409 if taken).
    #[schema(
        example = "user_123",
        min_length = 1,
        max_length = 255,
        pattern = "^[a-zA-Z0-9_.-]+$"
    )]
    pub external_id: String,
    /// Any JSON object of up to 100 properties, returned with every verification of its keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
    /// Rate limits shared by every key of the identity (at most 50, names unique): counted per
    /// identity; a key's own limit of the same name wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 50)]
    pub ratelimits: Option<Vec<RatelimitRequest>>,
}

impl Validate for CreateIdentityRequest {
    fn validate(&self, v: &mut Violations) {
        v.pattern(
            "externalId",
            &self.external_id,
            1,
            255,
            charset::external_id,
            "letters, digits, '_', '.' and '-'",
        );
        if let Some(m) = &self.meta {
            meta(v, m);
        }
        if let Some(r) = &self.ratelimits {
            crate::keys::ratelimits(v, r);
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateIdentityResponseData {
    /// `id_…`
    pub identity_id: String,
}

/// An identity named by its id (`id_…`) or its externalId.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityRequest {
    /// The identity's id or externalId.
    #[schema(example = "user_123", min_length = 1, max_length = 255)]
    pub identity: String,
}

impl Validate for IdentityRequest {
    fn validate(&self, v: &mut Violations) {
        v.length("identity", &self.identity, 1, 255);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateIdentityRequest {
    /// The identity's id or externalId.
    #[schema(example = "user_123", min_length = 1, max_length = 255)]
    pub identity: String,
    /// Replaces the identity's meta; `{}` removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
    /// Replaces the identity's rate limits by name (`[]` removes them all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 50)]
    pub ratelimits: Option<Vec<RatelimitRequest>>,
}

impl Validate for UpdateIdentityRequest {
    fn validate(&self, v: &mut Violations) {
        v.length("identity", &self.identity, 1, 255);
        if let Some(m) = &self.meta {
            meta(v, m);
        }
        if let Some(r) = &self.ratelimits {
            crate::keys::ratelimits(v, r);
        }
    }
}
