//! Unauthenticated operational endpoints.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use keyward_types::liveness::LivenessResponseData;

use crate::app::AppState;
use crate::respond::Data;

/// `GET /v2/liveness` ([`keyward_types::operations::LIVENESS`]): answers while the server is up.
pub async fn liveness() -> Data<LivenessResponseData> {
    Data(LivenessResponseData {
        message: "OK".to_owned(),
    })
}

/// `GET /openapi.json`: the OpenAPI 3.1 document of every route, generated from the code.
pub async fn openapi(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/json")],
        app.openapi_json.clone(),
    )
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.render_metrics(),
    )
}
