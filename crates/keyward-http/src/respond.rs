//! Success responses: the data wrapped in the envelope with this request's id.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyward_types::{Envelope, Meta, Pagination};
use serde::Serialize;

use crate::request_id;

/// `{ meta, data }`.
pub struct Data<T>(pub T);

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        envelope_response(self.0, None)
    }
}

/// `{ meta, data: [...], pagination }`.
pub struct Page<T>(pub Vec<T>, pub Pagination);

impl<T: Serialize> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        envelope_response(self.0, Some(self.1))
    }
}

impl<T> From<(Vec<T>, Pagination)> for Page<T> {
    fn from((items, pagination): (Vec<T>, Pagination)) -> Self {
        Page(items, pagination)
    }
}

/// A 200 with `data` in the envelope of this request.
fn envelope_response<T: Serialize>(data: T, pagination: Option<Pagination>) -> Response {
    let envelope = Envelope {
        meta: Meta {
            request_id: request_id::current(),
        },
        data,
        pagination,
    };
    json_response(StatusCode::OK, "application/json", &envelope).unwrap_or_else(|err| {
        crate::error::ErrorResponse(keyward_core::error::ApiError::internal(err)).into_response()
    })
}

/// `value` as a JSON response: every answer of keyward, success or error, is built here.
///
/// Serializes into a buffer sized for the common small answer (axum's `Json` starts at 128
/// bytes, so a verifyKey answer of ~150 bytes always paid a reallocation and copy), and sets the
/// one header once (`axum::Json` sets `application/json`, which an error preferring
/// `application/problem+json` then had to replace).
pub(crate) fn json_response<T: Serialize>(
    status: StatusCode,
    content_type: &'static str,
    value: &T,
) -> Result<Response, serde_json::Error> {
    let mut buf = Vec::with_capacity(256);
    serde_json::to_writer(&mut buf, value)?;
    let mut response = Response::new(Body::from(buf));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}
