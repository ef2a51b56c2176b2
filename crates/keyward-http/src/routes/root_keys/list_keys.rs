//! `POST /v2/rootKeys.listKeys`: [`op::ListRootKeysUnkey`].

use axum::extract::State;
use keyward_core::service;
use keyward_core::service::root_keys::Listing;
use keyward_types::operations::{self as op, Endpoint};

use crate::app::AppState;
use crate::error::ErrorResponse;
use crate::extract::{Authenticated, Body};
use crate::respond::Page;

type Op = op::ListRootKeysUnkey;

pub async fn list_keys(
    State(app): State<AppState>,
    Authenticated(caller): Authenticated,
    Body(request): Body<<Op as Endpoint>::Request>,
) -> Result<Page<<Op as Endpoint>::Data>, ErrorResponse> {
    let answer =
        service::root_keys::list_root_keys(&app.keyward, &caller, request, Listing::Readable)
            .await?;
    Ok(Page::from(answer))
}
