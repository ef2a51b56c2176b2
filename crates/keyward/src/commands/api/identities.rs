//! `keyward api identities …`

use keyward_types::identities::{CreateIdentityRequest, IdentityRequest, UpdateIdentityRequest};
use keyward_types::operations as op;

use super::Ctx;
use super::permissions::list_request;
use crate::args::Json;
use crate::args::api::identities::IdentitiesCommand;
use crate::error::CliResult;
use crate::output::{Column, col};

const IDENTITY_COLUMNS: &[Column] = &[
    col("ID", "/id"),
    col("EXTERNAL ID", "/externalId"),
    col("META", "/meta"),
];

pub async fn run(ctx: &Ctx, command: IdentitiesCommand) -> CliResult {
    match command {
        IdentitiesCommand::CreateIdentity(a) => {
            let request = CreateIdentityRequest {
                external_id: a.external_id,
                meta: a.meta_json.map(|Json(m)| m),
                ratelimits: a.ratelimits_json.map(|Json(r)| r),
            };
            ctx.call::<op::CreateIdentity>(&request, &[]).await
        }
        IdentitiesCommand::GetIdentity(a) => {
            let request = IdentityRequest {
                identity: a.identity,
            };
            ctx.call::<op::GetIdentity>(&request, &[]).await
        }
        IdentitiesCommand::ListIdentities(a) => {
            ctx.call::<op::ListIdentities>(&list_request(a), IDENTITY_COLUMNS)
                .await
        }
        IdentitiesCommand::UpdateIdentity(a) => {
            let request = UpdateIdentityRequest {
                identity: a.identity,
                meta: a.meta_json.map(|Json(m)| m),
                ratelimits: a.ratelimits_json.map(|Json(r)| r),
            };
            ctx.call::<op::UpdateIdentity>(&request, &[]).await
        }
        IdentitiesCommand::DeleteIdentity(a) => {
            let request = IdentityRequest {
                identity: a.identity,
            };
            ctx.call::<op::DeleteIdentity>(&request, &[]).await
        }
    }
}
