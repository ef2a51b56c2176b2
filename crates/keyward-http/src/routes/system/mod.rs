//! Unauthenticated operational endpoints.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use keyward_types::Envelope;
use keyward_types::liveness::LivenessResponseData;

use crate::app::AppState;
use crate::http::respond::Data;

/// Liveness
///
/// Answers while the server is up. Needs no root key.
#[utoipa::path(
    get,
    path = "/v2/liveness",
    tag = "liveness",
    operation_id = "liveness",
    responses((status = 200, description = "The server is up", body = Envelope<LivenessResponseData>))
)]
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
