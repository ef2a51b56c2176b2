//! `POST /v2/identities.updateIdentity`: [`op::UpdateIdentity`].

use axum::extract::State;
use keyward_core::service;
use keyward_types::operations::{self as op, Endpoint};

use crate::app::AppState;
use crate::error::ErrorResponse;
use crate::extract::{Authenticated, Body, RequestOrigin};
use crate::respond::Data;

type Op = op::UpdateIdentity;

pub async fn update_identity(
    State(app): State<AppState>,
    Authenticated(caller): Authenticated,
    RequestOrigin(origin): RequestOrigin,
    Body(request): Body<<Op as Endpoint>::Request>,
) -> Result<Data<<Op as Endpoint>::Data>, ErrorResponse> {
    let answer =
        service::identities::update_identity(&app.keyward, &caller, origin, request).await?;
    Ok(Data(answer))
}
