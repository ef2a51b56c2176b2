//! `ApiError`: the one error type of every operation.
//!
//! Rules:
//! - A user error carries an [`ErrorCode`] (which fixes status, title and `type`) and a `detail`
//!   that says what to change. Build them with the constructors here.
//! - Anything unexpected (storage failures, bugs) becomes [`ApiError::internal`], which keeps its
//!   cause for the log. Nothing here logs: the HTTP edge logs the cause once, with the request id,
//!   and answers a bare 500 that never echoes it.
//! - A storage that cannot serve now (unreachable, pool exhausted, disk full) is a 503 with a
//!   `Retry-After` hint ([`ApiError::unavailable`]); other storage errors are internal.

use keyward_store::StoreError;
use keyward_types::{ErrorCode, ValidationError};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    pub errors: Option<Vec<ValidationError>>,
    /// What went wrong inside keyward (500s and 503s): for the log, never for the client.
    pub cause: Option<String>,
    /// Seconds after which a retry may succeed (503s).
    pub retry_after: Option<u32>,
}

pub type ApiResult<T> = Result<T, ApiError>;

/// What a client is told to wait before retrying when the database cannot serve.
const UNAVAILABLE_RETRY_AFTER_SECS: u32 = 1;

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError {
            code,
            detail: detail.into(),
            errors: None,
            cause: None,
            retry_after: None,
        }
    }

    /// 400 with one entry per problem; the detail names the first so a human sees it at once.
    pub fn invalid(context: &str, errors: Vec<ValidationError>) -> Self {
        let first = errors
            .first()
            .map(|e| match &e.fix {
                Some(fix) => format!(": {} {} ({fix})", e.location, e.message),
                None => format!(": {} {}", e.location, e.message),
            })
            .unwrap_or_default();
        ApiError {
            errors: Some(errors),
            ..ApiError::new(
                ErrorCode::InvalidInput,
                format!("{context} failed to validate schema{first}"),
            )
        }
    }

    /// 400 for one field, outside schema validation (e.g. a feature this version lacks).
    pub fn invalid_field(field: &str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        let message = message.into();
        let fix = fix.into();
        ApiError {
            errors: Some(vec![ValidationError {
                location: format!("body.{field}"),
                message: message.clone(),
                fix: Some(fix.clone()),
            }]),
            ..ApiError::new(
                ErrorCode::InvalidInput,
                format!("body.{field} {message} ({fix})"),
            )
        }
    }

    /// 403: the root key lacks every one of `permissions`.
    pub fn missing_permission<S: std::fmt::Display>(permissions: &[S]) -> Self {
        let list = permissions
            .iter()
            .map(|p| format!("'{p}'"))
            .collect::<Vec<_>>();
        let detail = match list.as_slice() {
            [one] => format!(
                "Missing permission: {one}. Grant it to the root key or use one that has it."
            ),
            _ => format!(
                "Missing one of these permissions: {}. Grant one to the root key or use one that has it.",
                list.join(" or ")
            ),
        };
        ApiError::new(ErrorCode::InsufficientPermissions, detail)
    }

    pub fn key_not_found(key_id: &str) -> Self {
        ApiError::new(
            ErrorCode::KeyNotFound,
            format!(
                "The key '{key_id}' was not found in this workspace; it may have been deleted."
            ),
        )
    }

    pub fn api_not_found(api_id: &str) -> Self {
        ApiError::new(
            ErrorCode::ApiNotFound,
            format!(
                "The API '{api_id}' was not found in this workspace; it may have been deleted."
            ),
        )
    }

    /// 500. The cause goes to the log (at the HTTP edge), never to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError {
            cause: Some(cause.to_string()),
            ..ApiError::new(
                ErrorCode::Internal,
                "keyward failed to complete the request; the server log has the cause.",
            )
        }
    }

    /// 503: the database cannot serve now; the client may retry shortly.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        ApiError {
            cause: Some(cause.to_string()),
            retry_after: Some(UNAVAILABLE_RETRY_AFTER_SECS),
            ..ApiError::new(
                ErrorCode::ServiceUnavailable,
                format!(
                    "keyward's database cannot serve this request right now; retry in \
                     {UNAVAILABLE_RETRY_AFTER_SECS} s. If it persists, the server log says why."
                ),
            )
        }
    }

    /// Whether the database could not serve (a retry may succeed).
    pub fn is_unavailable(&self) -> bool {
        self.code == ErrorCode::ServiceUnavailable
    }

    /// Whether this is keyward's failure rather than the client's (logged at the edge).
    pub fn is_server_error(&self) -> bool {
        self.code.status() >= 500
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => ApiError::unavailable(err),
            // A conflict or a missing row the service did not expect is keyward's bug: services
            // map the ones users can cause (duplicate names, vanished rows) to their own errors.
            StoreError::NotFound | StoreError::Conflict(_) | StoreError::Other(_) => {
                ApiError::internal(format_args!("storage: {err}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_keep_their_cause_out_of_the_detail() {
        let err = ApiError::internal("disk I/O error at /secret/path");
        assert_eq!(err.code, ErrorCode::Internal);
        assert!(!err.detail.contains("/secret/path"));
        assert_eq!(err.cause.as_deref(), Some("disk I/O error at /secret/path"));
    }

    #[test]
    fn an_unavailable_database_is_a_503_to_retry() {
        let err = ApiError::from(StoreError::Unavailable("pool timed out".into()));
        assert_eq!(err.code.status(), 503);
        assert!(err.retry_after.is_some());
        assert!(!err.detail.contains("pool timed out"));
        let err = ApiError::from(StoreError::Other("syntax error".into()));
        assert_eq!(err.code.status(), 500);
    }

    #[test]
    fn permission_errors_list_every_accepted_permission() {
        let one = ApiError::missing_permission(&["api.*.create_api"]);
        assert!(
            one.detail
                .starts_with("Missing permission: 'api.*.create_api'.")
        );
        let two = ApiError::missing_permission(&["api.*.read_key", "api.api_1.read_key"]);
        assert!(two.detail.starts_with(
            "Missing one of these permissions: 'api.*.read_key' or 'api.api_1.read_key'."
        ));
    }
}
