//! `POST /v2/ratelimit.getOverride`: [`op::GetOverride`].

use axum::extract::State;
use keyward_core::service;
use keyward_types::operations::{self as op, Endpoint};

use crate::app::AppState;
use crate::error::ErrorResponse;
use crate::extract::{Authenticated, Body};
use crate::respond::Data;

type Op = op::GetOverride;

pub async fn get_override(
    State(app): State<AppState>,
    Authenticated(caller): Authenticated,
    Body(request): Body<<Op as Endpoint>::Request>,
) -> Result<Data<<Op as Endpoint>::Data>, ErrorResponse> {
    let answer = service::ratelimit::get_override(&app.keyward, &caller, request).await?;
    Ok(Data(answer))
}
