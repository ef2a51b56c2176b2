//! `POST /v2/rootKeys.deleteKey`: [`op::DeleteRootKeyUnkey`].

use axum::extract::State;
use keyward_core::service;
use keyward_types::operations::{self as op, Endpoint};

use crate::app::AppState;
use crate::error::ErrorResponse;
use crate::extract::{Authenticated, Body, RequestOrigin};
use crate::respond::Data;

type Op = op::DeleteRootKeyUnkey;

pub async fn delete_key(
    State(app): State<AppState>,
    Authenticated(caller): Authenticated,
    RequestOrigin(origin): RequestOrigin,
    Body(request): Body<<Op as Endpoint>::Request>,
) -> Result<Data<<Op as Endpoint>::Data>, ErrorResponse> {
    let answer =
        service::root_keys::delete_root_key(&app.keyward, &caller, origin, request).await?;
    Ok(Data(answer))
}
