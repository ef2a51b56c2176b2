//! `POST /v2/ratelimit.listOverrides`: [`op::ListOverrides`].

use axum::extract::State;
use keyward_core::service;
use keyward_types::operations::{self as op, Endpoint};

use crate::app::AppState;
use crate::error::ErrorResponse;
use crate::extract::{Authenticated, Body};
use crate::respond::Page;

type Op = op::ListOverrides;

pub async fn list_overrides(
    State(app): State<AppState>,
    Authenticated(caller): Authenticated,
    Body(request): Body<<Op as Endpoint>::Request>,
) -> Result<Page<<Op as Endpoint>::Data>, ErrorResponse> {
    let answer = service::ratelimit::list_overrides(&app.keyward, &caller, request).await?;
    Ok(Page::from(answer))
}
