//! `ApiError`: the one error type of every endpoint.
//!
//! Rules:
//! - A user error carries an [`ErrorCode`] (which fixes status, title and `type`) and a `detail`
//!   that says what to change. Build them with the constructors here.
//! - Anything unexpected (storage failures, bugs) becomes [`ApiError::internal`]: logged with the
//!   request id, answered as a bare 500 — never echoing internals to the client.
//! - The response body always carries `meta.requestId` (see [`crate::http::request_id`]).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keyward_types::{ErrorCode, ErrorEnvelope, Meta, ValidationError};

use crate::http::request_id;
use crate::http::respond::json_response;

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    pub errors: Option<Vec<ValidationError>>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError {
            code,
            detail: detail.into(),
            errors: None,
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
            code: ErrorCode::InvalidInput,
            detail: format!("{context} failed to validate schema{first}"),
            errors: Some(errors),
        }
    }

    /// 400 for one field, outside schema validation (e.g. a feature this version lacks).
    pub fn invalid_field(field: &str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        let message = message.into();
        let fix = fix.into();
        ApiError {
            code: ErrorCode::InvalidInput,
            detail: format!("body.{field} {message} ({fix})"),
            errors: Some(vec![ValidationError {
                location: format!("body.{field}"),
                message,
                fix: Some(fix),
            }]),
        }
    }

    /// 403: the root key lacks every one of `permissions`.
    pub fn missing_permission(permissions: &[String]) -> Self {
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

    /// 500. The cause is logged with the request id and never sent to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let request_id = request_id::current();
        tracing::error!(request_id = %request_id, error = %cause, "internal error");
        ApiError::new(
            ErrorCode::Internal,
            format!(
                "keyward failed to complete the request; the server log has the cause under {request_id}."
            ),
        )
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        ApiError::internal(format_args!("storage: {err}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut problem = self.code.problem(self.detail);
        problem.errors = self.errors;
        if problem.status == 400 {
            // Unkey always sends `errors` on a 400 (empty when no field is at fault), and its SDKs
            // require it to parse the error.
            problem.errors.get_or_insert_with(Vec::new);
        }
        let body = ErrorEnvelope {
            meta: Meta {
                request_id: request_id::current(),
            },
            error: problem,
        };
        let content_type = if request_id::problem_json_preferred() {
            "application/problem+json"
        } else {
            "application/json"
        };
        json_response(status, content_type, &body).unwrap_or_else(|err| {
            // An error body is strings and numbers: serializing it cannot fail. Should it ever,
            // answer without a body rather than recurse into another error.
            tracing::error!(%err, "cannot serialize an error response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    #[tokio::test]
    async fn internal_errors_never_echo_their_cause() {
        let response = request_id::scope("req_test".into(), async {
            ApiError::internal("disk I/O error at /secret/path").into_response()
        })
        .await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let error = &body["error"];
        assert_eq!(
            error["type"],
            "https://unkey.com/docs/errors/unkey/application/unexpected_error"
        );
        assert_eq!(error["status"], 500);
        let request_id = body["meta"]["requestId"].as_str().unwrap();
        assert!(
            error["detail"].as_str().unwrap().contains(request_id),
            "the detail names the request id"
        );
        assert!(!body.to_string().contains("/secret/path"));
    }

    #[test]
    fn permission_errors_list_every_accepted_permission() {
        let one = ApiError::missing_permission(&["api.*.create_api".into()]);
        assert!(
            one.detail
                .starts_with("Missing permission: 'api.*.create_api'.")
        );
        let two =
            ApiError::missing_permission(&["api.*.read_key".into(), "api.api_1.read_key".into()]);
        assert!(two.detail.starts_with(
            "Missing one of these permissions: 'api.*.read_key' or 'api.api_1.read_key'."
        ));
    }
}
