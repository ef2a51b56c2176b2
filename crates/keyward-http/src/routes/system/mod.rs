//! Unauthenticated operational endpoints.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use keyward_core::error::ApiError;
use keyward_store::BackendKind;
use keyward_types::ErrorCode;
use keyward_types::liveness::{DatabaseKind, InvalidationState, LivenessResponseData};

use crate::app::AppState;
use crate::error::ErrorResponse;
use crate::respond::Data;

/// `GET /v2/liveness` ([`keyward_types::operations::LIVENESS`]): answers while the server is up,
/// with its database and invalidation state; 503 while the node has lost its invalidation channel
/// (it answers correctly meanwhile, but reads the database for everything: a load balancer should
/// send its traffic elsewhere until it has resubscribed).
pub async fn liveness(
    State(app): State<AppState>,
) -> Result<Data<LivenessResponseData>, ErrorResponse> {
    let keyward = &app.keyward;
    let invalidation = keyward.nodes.state();
    if invalidation == InvalidationState::Degraded {
        return Err(ErrorResponse(ApiError {
            cause: Some("the invalidation channel is lost".to_owned()),
            retry_after: Some(1),
            ..ApiError::new(
                ErrorCode::ServiceUnavailable,
                format!(
                    "This node ({}) has lost its PostgreSQL invalidation channel and is \
                     resubscribing. It still answers correctly, reading the database for every \
                     request; send traffic to another node until this one answers 200 again. \
                     If it persists, the server log says why.",
                    keyward.nodes.id
                ),
            )
        }));
    }
    Ok(Data(LivenessResponseData {
        message: "OK".to_owned(),
        database: match keyward.db.kind() {
            BackendKind::Sqlite => DatabaseKind::Sqlite,
            BackendKind::Postgres => DatabaseKind::Postgres,
        },
        invalidation,
        node: keyward.nodes.id.to_string(),
    }))
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
