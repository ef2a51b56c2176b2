//! Request extractors: the validated JSON body and the authenticated caller.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use keyward_types::{ErrorCode, Validate, ValidationError, Violations};
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::auth::{Caller, authenticate};
use crate::error::ApiError;

/// A JSON request body, deserialized strictly (unknown fields are errors) and validated against
/// the documented limits. Every problem becomes a 400 listing each field.
pub struct Body<T>(pub T);

impl<T, S> FromRequest<S> for Body<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
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
            return Err(ApiError::invalid(&context(), violations.into_errors()));
        }
        Ok(Body(value))
    }
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
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

fn parse_fast<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

fn parse<T: DeserializeOwned>(bytes: &[u8], context: &str) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
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
    let text = text.split(" at line ").next().unwrap_or(&text).to_owned();
    let base = if path == "." {
        "body".to_owned()
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

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let authorization = match parts.headers.get(AUTHORIZATION) {
            None => None,
            Some(value) => Some(value.to_str().map_err(|_| {
                ApiError::new(
                    ErrorCode::AuthenticationMalformed,
                    "Authorization header is malformed. Use the form 'Bearer <root key>'.",
                )
            })?),
        };
        let root_key = authenticate(app, authorization).await?;
        Ok(Caller {
            root_key,
            remote_ip: super::request_id::peer(),
            user_agent: parts.headers.get(USER_AGENT).cloned(),
        })
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
