//! Rendering errors: every failed request is answered here, and keyward's own failures are
//! logged here, once, with the request id.
//!
//! The body is `{meta: {requestId}, error: {title, detail, status, type, errors?}}`, as
//! `application/problem+json` to clients that prefer it (see [`request_id`]) and
//! `application/json` otherwise. A 500's detail names the request id under which the cause was
//! logged, never the cause; a 503 carries `Retry-After`.

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use keyward_core::error::ApiError;
use keyward_types::{ErrorCode, ErrorEnvelope, Meta};

use crate::request_id;
use crate::respond::json_response;

/// An [`ApiError`] on its way to the client.
#[derive(Debug)]
pub struct ErrorResponse(pub ApiError);

impl From<ApiError> for ErrorResponse {
    fn from(err: ApiError) -> Self {
        ErrorResponse(err)
    }
}

impl From<keyward_store::StoreError> for ErrorResponse {
    fn from(err: keyward_store::StoreError) -> Self {
        ErrorResponse(err.into())
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let err = self.0;
        let request_id = request_id::current();
        let status =
            StatusCode::from_u16(err.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let server_error = err.is_server_error();
        let mut detail = err.detail;
        if server_error {
            let cause = err.cause.as_deref().unwrap_or("(no cause recorded)");
            tracing::error!(request_id = %request_id, status = status.as_u16(), error = %cause, "request failed");
            if err.code == ErrorCode::Internal {
                detail = format!(
                    "keyward failed to complete the request; the server log has the cause under {request_id}."
                );
            }
        }
        let mut problem = err.code.problem(detail);
        problem.errors = err.errors;
        if problem.status == 400 {
            // Unkey always sends `errors` on a 400 (empty when no field is at fault), and its SDKs
            // require it to parse the error.
            problem.errors.get_or_insert_with(Vec::new);
        }
        let body = ErrorEnvelope {
            meta: Meta { request_id },
            error: problem,
        };
        let content_type = if request_id::problem_json_preferred() {
            "application/problem+json"
        } else {
            "application/json"
        };
        let mut response = json_response(status, content_type, &body).unwrap_or_else(|err| {
            // An error body is strings and numbers: serializing it cannot fail. Should it ever,
            // answer without a body rather than recurse into another error.
            tracing::error!(%err, "cannot serialize an error response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        });
        if let Some(seconds) = err.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    #[tokio::test]
    async fn internal_errors_never_echo_their_cause() {
        let response = request_id::scope("req_test".into(), async {
            ErrorResponse(ApiError::internal("disk I/O error at /secret/path")).into_response()
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

    #[tokio::test]
    async fn an_unavailable_database_says_when_to_retry() {
        let response = request_id::scope("req_test".into(), async {
            ErrorResponse(ApiError::unavailable("pool timed out")).into_response()
        })
        .await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], "1");
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("pool timed out"));
    }
}
