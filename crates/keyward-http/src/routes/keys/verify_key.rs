//! `POST /v2/keys.verifyKey`: [`op::VerifyKey`], the hot path.

use axum::extract::State;
use keyward_core::verify::{self, Verification};
use keyward_types::operations::{self as op, Endpoint};

use crate::app::AppState;
use crate::error::ErrorResponse;
use crate::extract::{Authenticated, Body};
use crate::respond::Data;

type Op = op::VerifyKey;

pub async fn verify_key(
    State(app): State<AppState>,
    Authenticated(caller): Authenticated,
    Body(request): Body<<Op as Endpoint>::Request>,
) -> Result<Data<Verification>, ErrorResponse> {
    Ok(Data(
        verify::verify_key(&app.keyward, &caller, request).await?,
    ))
}
