//! `POST /v2/identities.listIdentities`: [`op::ListIdentities`].

use axum::extract::State;
use keyward_core::service;
use keyward_types::operations::{self as op, Endpoint};

use crate::app::AppState;
use crate::error::ErrorResponse;
use crate::extract::{Authenticated, Body};
use crate::respond::Page;

type Op = op::ListIdentities;

pub async fn list_identities(
    State(app): State<AppState>,
    Authenticated(caller): Authenticated,
    Body(request): Body<<Op as Endpoint>::Request>,
) -> Result<Page<<Op as Endpoint>::Data>, ErrorResponse> {
    let answer = service::identities::list_identities(&app.keyward, &caller, request).await?;
    Ok(Page::from(answer))
}
