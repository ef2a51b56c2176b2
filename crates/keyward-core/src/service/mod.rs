//! Business logic of every endpoint, free of HTTP types.
//!
//! A service function takes the [`Keyward`](crate::Keyward) instance, the authenticated
//! [`Caller`](crate::auth::Caller), for mutations the request's [`Origin`](crate::audit::Origin),
//! and a validated request, and returns the response data or an
//! [`ApiError`](crate::error::ApiError). Every mutation runs in one
//! [`Work`](crate::work::Work): begin → look up within the caller's workspace (404) → check
//! permission (403) → check preconditions (4xx) → write → audit → commit, and the unit of work
//! applies the cache invalidations after the commit. Nothing is written before the last check
//! passes, and a failure rolls the transaction back, so nothing is half-applied.

pub mod apis;
pub mod audit_logs;
pub mod identities;
pub mod keys;
pub mod ratelimit;
pub mod rbac;
pub mod root_keys;
pub mod workspaces;

use keyward_types::Pagination;

/// Splits one extra row off a page query (fetched with `limit + 1`) into the pagination.
pub(crate) fn paginate<T>(
    mut rows: Vec<T>,
    limit: i64,
    cursor_of: impl Fn(&T) -> String,
) -> (Vec<T>, Pagination) {
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let cursor = if has_more {
        rows.last().map(cursor_of)
    } else {
        None
    };
    (rows, Pagination { cursor, has_more })
}
