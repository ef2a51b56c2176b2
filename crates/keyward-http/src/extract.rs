//! Request extractors: the validated JSON body, the authenticated caller, and where a mutation
//! comes from (for its audit event).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::HeaderValue;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use axum::http::request::Parts;
use keyward_types::{ErrorCode, Validate, ValidationError, Violations};
use serde::de::DeserializeOwned;

use keyward_core::audit::Origin;
use keyward_core::auth::{Caller, authenticate, bearer_token};
use keyward_core::error::ApiError;

use crate::app::AppState;
use crate::connection::BodyTimedOut;
use crate::error::ErrorResponse;
use keyward_types::json_body::JsonBody;

/// A JSON request body, deserialized strictly (an object, at every depth; unknown fields are
/// errors) and validated against the documented limits. Every problem becomes a 400 listing
/// each field. A body sent as anything but `application/json` is refused unread (415); one
/// sent without a `Content-Type` is read as JSON (docs/API.md).
pub struct Body<T>(pub T);

impl<T, S> FromRequest<S> for Body<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = ErrorResponse;

    async fn from_request(request: Request, state: &S) -> Result<Self, ErrorResponse> {
        if let Some(content_type) = request.headers().get(CONTENT_TYPE)
            && !is_json(content_type.as_bytes())
        {
            return Err(unsupported_media_type(content_type).into());
        }
        // Only an error needs the context text; build it then, not on every request.
        let uri = request.uri().clone();
        let context = || format!("POST request body for '{}'", uri.path());
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_rejection)?;
        // The fast path: plain serde_json. Only a body that fails is parsed again with
        // serde_path_to_error, whose path tracking allocates per field, to name the field.
        let value = match parse_fast::<T>(&bytes) {
            Some(value) => value,
            None => parse::<T>(&bytes, &context())?,
        };
        let mut violations = Violations::new();
        value.validate(&mut violations);
        if !violations.is_empty() {
            return Err(ApiError::invalid(&context(), violations.into_errors()).into());
        }
        Ok(Body(value))
    }
}

/// Whether a `Content-Type` value is `application/json`, with any parameters
/// (`application/json; charset=utf-8`); type and subtype are case-insensitive (RFC 9110).
fn is_json(value: &[u8]) -> bool {
    let essence = value.split(|&b| b == b';').next().unwrap_or_default();
    essence
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/json")
}

fn unsupported_media_type(content_type: &HeaderValue) -> ApiError {
    let sent = String::from_utf8_lossy(content_type.as_bytes());
    ApiError::new(
        ErrorCode::UnsupportedMediaType,
        format!(
            "The request body is sent as '{sent}', but keyward reads only JSON. Send the body as a JSON object with 'Content-Type: application/json'."
        ),
    )
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if timed_out(&rejection) {
        ApiError::new(
            ErrorCode::RequestTimeout,
            "The request body did not arrive within the server's body timeout. Send the whole body promptly after the headers.",
        )
    } else if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::RequestBodyTooLarge,
            "The request body is larger than the 2 MiB keyward accepts. Send less (e.g. smaller meta).",
        )
    } else {
        ApiError::new(
            ErrorCode::RequestBodyUnreadable,
            format!("The request body could not be read: {rejection}"),
        )
    }
}

/// Whether the body's read failed because the body timeout expired
/// ([`super::connection::BodyTimedOut`], wrapped by axum).
fn timed_out(rejection: &BytesRejection) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(error) = cause {
        if error.is::<BodyTimedOut>() {
            return true;
        }
        cause = error.source();
    }
    false
}

fn parse_fast<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    keyward_types::json_body::from_slice(bytes).ok()
}

fn parse<T: DeserializeOwned>(bytes: &[u8], context: &str) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(JsonBody(&mut deserializer));
    let value = match result {
        Ok(value) => value,
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(unreadable(&inner));
            }
            return Err(ApiError::invalid(context, vec![field_error(&path, &inner)]));
        }
    };
    deserializer.end().map_err(|e| unreadable(&e))?;
    Ok(value)
}

fn unreadable(err: &serde_json::Error) -> ApiError {
    ApiError::new(
        ErrorCode::RequestBodyUnreadable,
        format!(
            "The request body is not valid JSON ({err}). Send one JSON object with Content-Type: application/json."
        ),
    )
}

/// Turns serde's message into a field location and a message a person can act on.
fn field_error(path: &str, err: &serde_json::Error) -> ValidationError {
    let text = err.to_string();
    // serde appends " at line L column C"; the location says more.
    let text = text.split(" at line ").next().unwrap_or(&text);
    // serde names the Rust type ("expected struct VerifyKeyRequest"); the client knows JSON.
    let text = match text.split_once(", expected struct ") {
        Some((found, _)) => format!("{found}, expected a JSON object"),
        None => text.to_owned(),
    };
    let base = if path == "." {
        "body".to_owned()
    } else if path.starts_with('[') {
        // An item of a body that is an array (`ratelimit.multiLimit`).
        format!("body{path}")
    } else {
        format!("body.{path}")
    };
    let quoted = |prefix: &str| {
        text.strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    if let Some(field) = quoted("missing field `") {
        return ValidationError {
            location: format!("{base}.{field}"),
            message: "is required".into(),
            fix: None,
        };
    }
    if quoted("unknown field `").is_some() {
        // The path already ends with the unknown field's name.
        let expected = text
            .split_once(", expected ")
            .map(|(_, e)| e.replace('`', ""));
        return ValidationError {
            location: base,
            message: "is not a field of this request".into(),
            fix: expected.map(|e| format!("remove it; expected {e}")),
        };
    }
    ValidationError {
        location: base,
        message: text,
        fix: None,
    }
}

/// The authenticated root key of a request (`Authorization: Bearer <root key>`, the scheme
/// matched case-insensitively as RFC 9110 says).
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ErrorResponse;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ErrorResponse> {
        let malformed = || {
            ApiError::new(
                ErrorCode::AuthenticationMalformed,
                "Authorization header is malformed. Use the form 'Bearer <root key>'.",
            )
        };
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            return Err(ApiError::new(
                ErrorCode::AuthenticationMissing,
                "Authorization header is missing. Send 'Authorization: Bearer <root key>'.",
            )
            .into());
        };
        let header = header.to_str().map_err(|_| malformed())?;
        let token = bearer_token(header).ok_or_else(malformed)?;
        let root_key = authenticate(&app.keyward, token).await?;
        Ok(Authenticated(Caller { root_key }))
    }
}

/// Where a mutation comes from, for its audit event: the request id, the client's address and
/// its `User-Agent`. Only mutations take it, so verifications never build these strings.
pub struct RequestOrigin(pub Origin);

impl<S: Send + Sync> FromRequestParts<S> for RequestOrigin {
    type Rejection = ErrorResponse;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ErrorResponse> {
        Ok(RequestOrigin(Origin {
            request_id: Some(crate::request_id::current()),
            remote_ip: crate::request_id::peer().map(|addr| addr.ip()),
            user_agent: parts
                .headers
                .get(USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_types::keys::DeleteKeyRequest;

    fn errors(body: &str) -> ApiError {
        parse::<DeleteKeyRequest>(body.as_bytes(), "ctx").unwrap_err()
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer  "), None);
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer a b"), None);
    }

    #[test]
    fn missing_and_unknown_fields_name_the_field() {
        let e = errors("{}");
        assert_eq!(e.code, ErrorCode::InvalidInput);
        let first = &e.errors.as_ref().unwrap()[0];
        assert_eq!(
            (first.location.as_str(), first.message.as_str()),
            ("body.keyId", "is required")
        );

        let e = errors(r#"{"keyId":"key_1","nope":1}"#);
        let first = &e.errors.as_ref().unwrap()[0];
        assert_eq!(first.location, "body.nope");
        assert!(first.fix.as_ref().unwrap().contains("keyId"));
    }

    #[test]
    fn wrong_types_name_the_field() {
        let e = errors(r#"{"keyId":"key_1","permanent":"yes"}"#);
        let first = &e.errors.as_ref().unwrap()[0];
        assert_eq!(first.location, "body.permanent");
        assert!(
            first
                .message
                .starts_with("invalid type: string \"yes\", expected a boolean"),
            "{}",
            first.message
        );
    }

    #[test]
    fn broken_json_is_unreadable() {
        assert_eq!(errors("{").code, ErrorCode::RequestBodyUnreadable);
        assert_eq!(errors("").code, ErrorCode::RequestBodyUnreadable);
        assert_eq!(
            errors(r#"{"keyId":"key_1"} x"#).code,
            ErrorCode::RequestBodyUnreadable
        );
    }
}
