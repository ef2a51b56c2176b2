//! `POST /v2/permissions.createRole`: [`op::CreateRole`].

use axum::extract::State;
use keyward_core::service;
use keyward_types::operations::{self as op, Endpoint};

use crate::app::AppState;
use crate::error::ErrorResponse;
use crate::extract::{Authenticated, Body, RequestOrigin};
use crate::respond::Data;

type Op = op::CreateRole;

pub async fn create_role(
    State(app): State<AppState>,
    Authenticated(caller): Authenticated,
    RequestOrigin(origin): RequestOrigin,
    Body(request): Body<<Op as Endpoint>::Request>,
) -> Result<Data<<Op as Endpoint>::Data>, ErrorResponse> {
    let answer = service::rbac::create_role(&app.keyward, &caller, origin, request).await?;
    Ok(Data(answer))
}
