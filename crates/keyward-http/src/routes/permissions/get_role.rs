//! `POST /v2/permissions.getRole`: [`op::GetRole`].

use axum::extract::State;
use keyward_core::service;
use keyward_types::operations::{self as op, Endpoint};

use crate::app::AppState;
use crate::error::ErrorResponse;
use crate::extract::{Authenticated, Body};
use crate::respond::Data;

type Op = op::GetRole;

pub async fn get_role(
    State(app): State<AppState>,
    Authenticated(caller): Authenticated,
    Body(request): Body<<Op as Endpoint>::Request>,
) -> Result<Data<<Op as Endpoint>::Data>, ErrorResponse> {
    let answer = service::rbac::get_role(&app.keyward, &caller, request).await?;
    Ok(Data(answer))
}
