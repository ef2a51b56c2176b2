//! `ratelimit.*`: the standalone limiter — limit any identifier (a user, an IP, a tenant) in a
//! namespace, with overrides for chosen identifiers. Field names are Unkey's (unkey-py 3.2.2).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::keys::{MAX_RATELIMIT_COST, MAX_RATELIMIT_DURATION};
use crate::validate::{Validate, Violations};

/// Most checks one `ratelimit.multiLimit` makes.
pub const MAX_MULTI_LIMITS: usize = 100;

fn namespace(v: &mut Violations, field: &str, value: &str) {
    v.length(field, value, 1, 512);
}

fn identifier(v: &mut Violations, field: &str, value: &str) {
    v.length(field, value, 1, 512);
}

fn duration(v: &mut Violations, field: &str, value: i64) {
    v.range(field, value, 1000, MAX_RATELIMIT_DURATION);
}

/// One check: may `identifier` spend `cost` of `limit` per `duration` in `namespace`?
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitRequest {
    /// The namespace's name or id (`rlns_…`). An unknown name is created when the root key may
    /// (`ratelimit.*.create_namespace`).
    #[schema(example = "email.outbound", min_length = 1, max_length = 512)]
    pub namespace: String,
    /// Who is limited: a user id, an IP address, a tenant.
    #[schema(example = "user_123", min_length = 1, max_length = 512)]
    pub identifier: String,
    /// Cost admitted per window (an override of the identifier replaces it).
    #[schema(example = 100, minimum = 1, maximum = 1000000000000_i64)]
    pub limit: i64,
    /// Window length, ms: 1000 to 2592000000 (an override replaces it).
    #[schema(example = 60000, minimum = 1000, maximum = 2592000000_i64)]
    pub duration: i64,
    /// What this call costs (default 1); 0 checks without spending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 1000000000000_i64)]
    pub cost: Option<i64>,
}

impl LimitRequest {
    fn check(&self, v: &mut Violations, at: &str) {
        namespace(v, &format!("{at}namespace"), &self.namespace);
        identifier(v, &format!("{at}identifier"), &self.identifier);
        v.range(&format!("{at}limit"), self.limit, 1, MAX_RATELIMIT_COST);
        duration(v, &format!("{at}duration"), self.duration);
        if let Some(cost) = self.cost {
            v.range(&format!("{at}cost"), cost, 0, MAX_RATELIMIT_COST);
        }
    }
}

impl Validate for LimitRequest {
    fn validate(&self, v: &mut Violations) {
        self.check(v, "");
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitResponseData {
    /// The limit applied: the request's, or its override's.
    pub limit: i64,
    /// What is left in the window after this call.
    pub remaining: i64,
    /// When the current window ends, unix ms.
    pub reset: i64,
    /// Whether the call may proceed. Always HTTP 200: check this.
    pub success: bool,
    /// The override applied, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_id: Option<String>,
}

/// Up to 100 checks decided together: all are charged, or — if any fails — none.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Vec<LimitRequest>, min_items = 1, max_items = 100)]
pub struct MultiLimitRequest(pub Vec<LimitRequest>);

impl Validate for MultiLimitRequest {
    fn validate(&self, v: &mut Violations) {
        v.items("", self.0.len(), 1, MAX_MULTI_LIMITS);
        for (i, check) in self.0.iter().enumerate() {
            check.check(v, &format!("[{i}]."));
        }
    }
}

/// How one check of a `ratelimit.multiLimit` came out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MultiLimitCheck {
    /// The namespace as the request named it.
    pub namespace: String,
    pub identifier: String,
    pub limit: i64,
    /// Left in the window; when another check failed and nothing was charged, what is left
    /// without this call.
    pub remaining: i64,
    pub reset: i64,
    /// Whether this check alone passed.
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MultiLimitResponseData {
    /// Whether every check passed (and so was charged).
    pub passed: bool,
    /// One per check, in the request's order.
    pub limits: Vec<MultiLimitCheck>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetOverrideRequest {
    /// The namespace's name or id; it must exist.
    #[schema(min_length = 1, max_length = 512)]
    pub namespace: String,
    /// An identifier, or a pattern where `*` stands for any run of characters (`*@acme.com`).
    #[schema(example = "user_123", min_length = 1, max_length = 512)]
    pub identifier: String,
    /// Cost admitted per window for matching identifiers; 0 blocks them.
    #[schema(minimum = 0, maximum = 1000000000000_i64)]
    pub limit: i64,
    /// Window length, ms: 1000 to 2592000000.
    #[schema(minimum = 1000, maximum = 2592000000_i64)]
    pub duration: i64,
}

impl Validate for SetOverrideRequest {
    fn validate(&self, v: &mut Violations) {
        namespace(v, "namespace", &self.namespace);
        identifier(v, "identifier", &self.identifier);
        v.range("limit", self.limit, 0, MAX_RATELIMIT_COST);
        duration(v, "duration", self.duration);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetOverrideResponseData {
    /// `rlor_…`: the same id when an existing override of the identifier was changed.
    pub override_id: String,
}

/// An override of a namespace, named by identifier.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OverrideRequest {
    #[schema(min_length = 1, max_length = 512)]
    pub namespace: String,
    /// getOverride: the identifier to find the override of (an exact override, else the first
    /// matching pattern). deleteOverride: the override's identifier or pattern, exactly.
    #[schema(min_length = 1, max_length = 512)]
    pub identifier: String,
}

impl Validate for OverrideRequest {
    fn validate(&self, v: &mut Violations) {
        namespace(v, "namespace", &self.namespace);
        identifier(v, "identifier", &self.identifier);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListOverridesRequest {
    #[schema(min_length = 1, max_length = 512)]
    pub namespace: String,
    /// The previous page's `pagination.cursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 1024)]
    pub cursor: Option<String>,
    /// Overrides per page, 1 to 100 (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

impl Validate for ListOverridesRequest {
    fn validate(&self, v: &mut Violations) {
        namespace(v, "namespace", &self.namespace);
        v.opt_length("cursor", self.cursor.as_deref(), 1, 1024);
        if let Some(limit) = self.limit {
            v.range("limit", limit, 1, 100);
        }
    }
}

/// A limit that replaces the request's for matching identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RatelimitOverride {
    pub override_id: String,
    pub duration: i64,
    pub identifier: String,
    pub limit: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(r: &impl Validate) -> Vec<String> {
        let mut v = Violations::new();
        r.validate(&mut v);
        v.into_errors().into_iter().map(|e| e.location).collect()
    }

    fn limit() -> LimitRequest {
        LimitRequest {
            namespace: "api".into(),
            identifier: "user_1".into(),
            limit: 10,
            duration: 60_000,
            cost: None,
        }
    }

    #[test]
    fn limits_are_bounded() {
        assert!(problems(&limit()).is_empty());
        let bad = LimitRequest {
            namespace: String::new(),
            limit: 0,
            duration: 999,
            cost: Some(-1),
            ..limit()
        };
        assert_eq!(
            problems(&bad),
            ["body.namespace", "body.limit", "body.duration", "body.cost"]
        );
        assert_eq!(problems(&MultiLimitRequest(vec![])), ["body"]);
        let multi = MultiLimitRequest(vec![
            limit(),
            LimitRequest {
                limit: 0,
                ..limit()
            },
        ]);
        assert_eq!(problems(&multi), ["body[1].limit"]);
    }
}
