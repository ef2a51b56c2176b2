//! Success responses: the data wrapped in the envelope with this request's id.

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use keyward_types::{Envelope, Meta, Pagination};
use serde::Serialize;

use crate::http::request_id;

/// `{ meta, data }`.
pub struct Data<T>(pub T);

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        json_response(&Envelope {
            meta: Meta {
                request_id: request_id::current(),
            },
            data: self.0,
            pagination: None,
        })
    }
}

/// Serializes into a buffer sized for the common small answer: axum's `Json` starts at 128
/// bytes, so a verifyKey answer (~150 bytes) always paid a reallocation and copy. The response
/// is built directly, with its one header set once (`(header, Vec<u8>).into_response()` sets
/// `application/octet-stream` first and then replaces it).
fn json_response<T: Serialize>(value: &T) -> Response {
    let mut buf = Vec::with_capacity(256);
    match serde_json::to_writer(&mut buf, value) {
        Ok(()) => {
            let mut response = Response::new(Body::from(buf));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(err) => crate::error::ApiError::internal(err).into_response(),
    }
}

/// `{ meta, data: [...], pagination }`.
pub struct Page<T>(pub Vec<T>, pub Pagination);

impl<T: Serialize> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        Json(Envelope {
            meta: Meta {
                request_id: request_id::current(),
            },
            data: self.0,
            pagination: Some(self.1),
        })
        .into_response()
    }
}

impl<T> From<(Vec<T>, Pagination)> for Page<T> {
    fn from((items, pagination): (Vec<T>, Pagination)) -> Self {
        Page(items, pagination)
    }
}
