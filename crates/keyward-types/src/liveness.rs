//! `GET /v2/liveness`

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LivenessResponseData {
    /// Always `OK` while the process serves requests.
    pub message: String,
}
