//! The response envelope every endpoint answers with.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::Problem;

/// Metadata included in every response, success or error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// Unique id of this request (`req_…`); quote it when reporting a problem.
    #[schema(example = "req_2c9a0jf23l4k567")]
    pub request_id: String,
}

/// Cursor pagination of list endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// Pass this as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Whether another page follows this one.
    pub has_more: bool,
}

/// A successful response: `{ meta, data, pagination? }`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    pub meta: Meta,
    pub data: T,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// A failed response: `{ meta, error }`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEnvelope {
    pub meta: Meta,
    pub error: Problem,
}

/// The empty object `{}`, returned by operations that have nothing to say but success.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Empty {}
