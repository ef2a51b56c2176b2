//! `POST /v2/permissions.setRolePermissions`: [`op::SetRolePermissions`].

use axum::extract::State;
use keyward_core::service;
use keyward_types::operations::{self as op, Endpoint};

use crate::app::AppState;
use crate::error::ErrorResponse;
use crate::extract::{Authenticated, Body, RequestOrigin};
use crate::respond::Data;

type Op = op::SetRolePermissions;

pub async fn set_role_permissions(
    State(app): State<AppState>,
    Authenticated(caller): Authenticated,
    RequestOrigin(origin): RequestOrigin,
    Body(request): Body<<Op as Endpoint>::Request>,
) -> Result<Data<Vec<<Op as Endpoint>::Data>>, ErrorResponse> {
    let answer =
        service::rbac::set_role_permissions(&app.keyward, &caller, origin, request).await?;
    Ok(Data(answer))
}
