//! `POST /v2/rootKeys.listRootKeys`: [`op::ListRootKeys`].

use axum::extract::State;
use keyward_core::service;
use keyward_core::service::root_keys::Listing;
use keyward_types::operations::{self as op, Endpoint};

use crate::app::AppState;
use crate::error::ErrorResponse;
use crate::extract::{Authenticated, Body};
use crate::respond::Page;

type Op = op::ListRootKeys;

pub async fn list_root_keys(
    State(app): State<AppState>,
    Authenticated(caller): Authenticated,
    Body(request): Body<<Op as Endpoint>::Request>,
) -> Result<Page<<Op as Endpoint>::Data>, ErrorResponse> {
    let answer =
        service::root_keys::list_root_keys(&app.keyward, &caller, request, Listing::AllOrRefused)
            .await?;
    Ok(Page::from(answer))
}
