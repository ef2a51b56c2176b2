//! `auditLogs.*` (keyward extension): who changed what, newest first.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::validate::{Validate, Violations};

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListLogsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 1024)]
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Only this event, e.g. `key.delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 128)]
    pub event: Option<String>,
    /// Only events that touched this resource id (`key_…`, `api_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 255)]
    pub target_id: Option<String>,
    /// Only events at or after this time, unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Only events before this time, unix milliseconds; not before `since` (400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

impl Validate for ListLogsRequest {
    fn validate(&self, v: &mut Violations) {
        if let Some(limit) = self.limit {
            v.range("limit", limit, 1, 100);
        }
        v.opt_length("cursor", self.cursor.as_deref(), 1, 1024);
        v.opt_length("event", self.event.as_deref(), 1, 128);
        v.opt_length("targetId", self.target_id.as_deref(), 1, 255);
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since > until
        {
            v.push("since", "must not be after until", None);
        }
    }
}

/// Who performed an audited action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditActor {
    /// `rootKey` or `system`.
    #[serde(rename = "type")]
    pub actor_type: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A resource an audited action touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditTarget {
    /// `workspace`, `api`, `key`, `identity` or `rootKey`.
    #[serde(rename = "type")]
    pub target_type: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditLog {
    /// `log_…`
    pub id: String,
    pub time: i64,
    pub workspace_id: String,
    /// e.g. `key.create`, `key.delete`, `api.delete`.
    pub event: String,
    pub description: String,
    pub actor: AuditActor,
    pub targets: Vec<AuditTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The request that caused this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}
