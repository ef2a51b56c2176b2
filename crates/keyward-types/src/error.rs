//! The error body and keyward's stable error-code table.
//!
//! Every error keyward returns has one [`ErrorCode`]. The code fixes the HTTP status, the title
//! and the `type` URL, exactly as Unkey derives them from its internal URNs
//! (`err:<system>:<category>:<specific>` → `https://unkey.com/docs/errors/<system>/<category>/<specific>`),
//! so SDKs and scripts that branch on `type` keep working. Codes are never renamed or reused.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// RFC 7807-style problem, wrapped under `error` in the response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// Short, human-readable summary of the problem type.
    pub title: String,
    /// What went wrong in this request, and what to change.
    pub detail: String,
    /// The HTTP status code.
    pub status: u16,
    /// A URL identifying the problem type; stable, safe to branch on.
    #[serde(rename = "type")]
    pub type_url: String,
    /// Per-field problems of an invalid request (400 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ValidationError>>,
}

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ValidationError {
    /// Where the problem is, e.g. `body.apiId`.
    pub location: String,
    /// What is wrong there.
    pub message: String,
    /// How to fix it, when there is something specific to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident => ($status:expr, $title:expr, $system:literal, $category:literal, $specific:literal), )*) => {
        /// Every error keyward can return. See the module docs.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The HTTP status this error is answered with.
            pub const fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// The problem title.
            pub const fn title(self) -> &'static str {
                match self { $(ErrorCode::$variant => $title,)* }
            }

            /// The stable URN, `err:<system>:<category>:<specific>`.
            pub const fn urn(self) -> &'static str {
                match self { $(ErrorCode::$variant => concat!("err:", $system, ":", $category, ":", $specific),)* }
            }

            /// The `type` URL of the problem body.
            pub const fn type_url(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => concat!("https://unkey.com/docs/errors/", $system, "/", $category, "/", $specific),)*
                }
            }

            /// The code whose `type` URL is `url`, if any.
            pub fn from_type_url(url: &str) -> Option<ErrorCode> {
                Self::ALL.iter().copied().find(|code| code.type_url() == url)
            }
        }
    };
}

error_codes! {
    /// The request body or a parameter does not match the schema.
    InvalidInput => (400, "Bad Request", "unkey", "application", "invalid_input"),
    /// No `Authorization` header was sent.
    AuthenticationMissing => (400, "Bad Request", "unkey", "authentication", "missing"),
    /// The `Authorization` header is not `Bearer <root key>`.
    AuthenticationMalformed => (400, "Bad Request", "unkey", "authentication", "malformed"),
    /// The body is not readable JSON.
    RequestBodyUnreadable => (400, "Bad Request", "user", "bad_request", "request_body_unreadable"),
    /// The `permissions` query of a verification does not parse.
    PermissionsQuerySyntaxError => (400, "Bad Request", "user", "bad_request", "permissions_query_syntax_error"),
    /// The root key is unknown or deleted.
    AuthenticationKeyNotFound => (401, "Unauthorized", "unkey", "authentication", "key_not_found"),
    /// The caller may not do this at all.
    Forbidden => (403, "Forbidden", "unkey", "authorization", "forbidden"),
    /// The root key lacks a permission this operation needs.
    InsufficientPermissions => (403, "Insufficient Permissions", "unkey", "authorization", "insufficient_permissions"),
    /// No such key in the caller's workspace.
    KeyNotFound => (404, "Not Found", "unkey", "data", "key_not_found"),
    /// No such API in the caller's workspace.
    ApiNotFound => (404, "Not Found", "unkey", "data", "api_not_found"),
    /// No such identity in the caller's workspace.
    IdentityNotFound => (404, "Not Found", "unkey", "data", "identity_not_found"),
    /// No such workspace.
    WorkspaceNotFound => (404, "Not Found", "unkey", "data", "workspace_not_found"),
    /// No such root key in the caller's workspace.
    RootKeyNotFound => (404, "Not Found", "unkey", "data", "root_key_not_found"),
    /// No route at this path.
    RouteNotFound => (404, "Not Found", "unkey", "application", "route_not_found"),
    /// The route exists but not for this HTTP method.
    MethodNotAllowed => (405, "Method Not Allowed", "unkey", "application", "method_not_allowed"),
    /// A resource with the same unique name already exists.
    Conflict => (409, "Conflicting Resource", "unkey", "data", "resource_already_exists"),
    /// The resource is protected against this operation (delete protection).
    ProtectedResource => (412, "Resource is protected", "unkey", "application", "protected_resource"),
    /// A precondition of the operation does not hold.
    PreconditionFailed => (412, "Precondition Failed", "unkey", "application", "precondition_failed"),
    /// The request head or body did not arrive in time.
    RequestTimeout => (408, "Request Timeout", "user", "bad_request", "request_timeout"),
    /// The request body exceeds the size limit.
    RequestBodyTooLarge => (413, "Request Entity Too Large", "user", "bad_request", "request_body_too_large"),
    /// The body is not sent as `application/json`.
    UnsupportedMediaType => (415, "Unsupported Media Type", "user", "bad_request", "unsupported_media_type"),
    /// Too many requests.
    TooManyRequests => (429, "Too Many Requests", "user", "too_many_requests", "workspace_rate_limited"),
    /// Something failed inside keyward; the request id finds it in the log.
    Internal => (500, "Internal Server Error", "unkey", "application", "unexpected_error"),
    /// keyward is shutting down or its storage is unavailable.
    ServiceUnavailable => (503, "Service Unavailable", "unkey", "application", "service_unavailable"),
    /// No such permission in the caller's workspace.
    PermissionNotFound => (404, "Not Found", "unkey", "data", "permission_not_found"),
    /// No such role in the caller's workspace.
    RoleNotFound => (404, "Not Found", "unkey", "data", "role_not_found"),
    /// A live identity of the workspace already has this externalId.
    IdentityAlreadyExists => (409, "Conflicting Resource", "unkey", "data", "identity_already_exists"),
    /// A permission of the workspace already has this slug.
    PermissionAlreadyExists => (409, "Conflicting Resource", "unkey", "data", "permission_already_exists"),
    /// A role of the workspace already has this name.
    RoleAlreadyExists => (409, "Conflicting Resource", "unkey", "data", "role_already_exists"),
    /// The root key has been disabled.
    KeyDisabled => (403, "Key is disabled", "unkey", "authorization", "key_disabled"),
    /// No live rate-limit namespace has this name or id in the workspace.
    RatelimitNamespaceNotFound => (404, "Not Found", "unkey", "data", "ratelimit_namespace_not_found"),
    /// No live override of the namespace matches the identifier.
    RatelimitOverrideNotFound => (404, "Not Found", "unkey", "data", "ratelimit_override_not_found"),
}

impl ErrorCode {
    /// The problem body for this code.
    pub fn problem(self, detail: impl Into<String>) -> Problem {
        Problem {
            title: self.title().to_string(),
            detail: detail.into(),
            status: self.status(),
            type_url: self.type_url().to_string(),
            errors: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn type_urls_are_unique_and_follow_the_urn() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            assert!(
                seen.insert(code.type_url()),
                "duplicate type url {}",
                code.type_url()
            );
            let path = code.urn().trim_start_matches("err:").replace(':', "/");
            assert_eq!(
                code.type_url(),
                format!("https://unkey.com/docs/errors/{path}")
            );
            assert_eq!(ErrorCode::from_type_url(code.type_url()), Some(*code));
        }
    }

    #[test]
    fn statuses_match_unkey() {
        assert_eq!(ErrorCode::InvalidInput.status(), 400);
        assert_eq!(ErrorCode::AuthenticationKeyNotFound.status(), 401);
        assert_eq!(
            ErrorCode::InsufficientPermissions.title(),
            "Insufficient Permissions"
        );
        assert_eq!(ErrorCode::ProtectedResource.status(), 412);
        assert_eq!(
            ErrorCode::KeyNotFound.type_url(),
            "https://unkey.com/docs/errors/unkey/data/key_not_found"
        );
    }
}
