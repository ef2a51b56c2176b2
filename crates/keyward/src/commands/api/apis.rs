//! `keyward api apis …`

use keyward_types::apis::{
    CreateApiRequest, DeleteApiRequest, GetApiRequest, ListKeysRequest, UpdateApiRequest,
};
use keyward_types::operations as op;

use super::{Ctx, flag};
use crate::args::api::apis::ApisCommand;
use crate::error::CliResult;
use crate::output::{Column, col, time_col};

/// The columns of a key list (`apis.listKeys`).
pub const KEY_COLUMNS: &[Column] = &[
    col("KEY ID", "/keyId"),
    col("START", "/start"),
    col("ENABLED", "/enabled"),
    col("NAME", "/name"),
    col("EXTERNAL ID", "/identity/externalId"),
    col("CREDITS", "/credits/remaining"),
    time_col("EXPIRES", "/expires"),
    time_col("CREATED", "/createdAt"),
];

pub async fn run(ctx: &Ctx, command: ApisCommand) -> CliResult {
    match command {
        ApisCommand::CreateApi(a) => {
            ctx.call::<op::CreateApi>(&CreateApiRequest { name: a.name }, &[])
                .await
        }
        ApisCommand::GetApi(a) => {
            ctx.call::<op::GetApi>(&GetApiRequest { api_id: a.api_id }, &[])
                .await
        }
        ApisCommand::UpdateApi(a) => {
            let request = UpdateApiRequest {
                api_id: a.api_id,
                name: a.name,
                delete_protection: a.delete_protection,
            };
            ctx.call::<op::UpdateApi>(&request, &[]).await
        }
        ApisCommand::DeleteApi(a) => {
            let request = DeleteApiRequest {
                api_id: a.api_id,
                permanent: flag(a.permanent),
            };
            ctx.call::<op::DeleteApi>(&request, &[]).await
        }
        ApisCommand::ListKeys(a) => {
            let request = ListKeysRequest {
                api_id: a.api_id,
                limit: a.limit,
                cursor: a.cursor,
                external_id: a.external_id,
                decrypt: flag(a.decrypt),
                revalidate_keys_cache: flag(a.revalidate_keys_cache),
            };
            ctx.call::<op::ListKeys>(&request, KEY_COLUMNS).await
        }
    }
}
