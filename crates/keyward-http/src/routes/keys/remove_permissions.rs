//! `POST /v2/keys.removePermissions`: [`op::RemovePermissions`].

use axum::extract::State;
use keyward_core::service;
use keyward_types::operations::{self as op, Endpoint};

use crate::app::AppState;
use crate::error::ErrorResponse;
use crate::extract::{Authenticated, Body, RequestOrigin};
use crate::respond::Data;

type Op = op::RemovePermissions;

pub async fn remove_permissions(
    State(app): State<AppState>,
    Authenticated(caller): Authenticated,
    RequestOrigin(origin): RequestOrigin,
    Body(request): Body<<Op as Endpoint>::Request>,
) -> Result<Data<Vec<<Op as Endpoint>::Data>>, ErrorResponse> {
    let answer = service::rbac::remove_permissions(&app.keyward, &caller, origin, request).await?;
    Ok(Data(answer))
}
