//! Success responses: the data wrapped in the envelope with this request's id.

use axum::Json;
use axum::response::{IntoResponse, Response};
use keyward_types::{Envelope, Meta, Pagination};
use serde::Serialize;

use crate::http::request_id;

/// `{ meta, data }`.
pub struct Data<T>(pub T);

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        Json(Envelope {
            meta: Meta {
                request_id: request_id::current(),
            },
            data: self.0,
            pagination: None,
        })
        .into_response()
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
