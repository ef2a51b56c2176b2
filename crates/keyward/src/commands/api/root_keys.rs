//! `keyward api root-keys …`

use keyward_types::operations as op;
use keyward_types::root_keys::{CreateRootKeyRequest, DeleteRootKeyRequest, ListRootKeysRequest};

use super::{Ctx, list};
use crate::args::api::root_keys::RootKeysCommand;
use crate::error::CliResult;
use crate::output::{Column, col, time_col};

const ROOT_KEY_COLUMNS: &[Column] = &[
    col("KEY ID", "/keyId"),
    col("START", "/start"),
    col("NAME", "/name"),
    col("PERMISSIONS", "/permissions"),
    time_col("CREATED", "/createdAt"),
];

pub async fn run(ctx: &Ctx, command: RootKeysCommand) -> CliResult {
    match command {
        RootKeysCommand::CreateRootKey(a) => {
            let request = CreateRootKeyRequest {
                name: a.name,
                permissions: list(Some(a.permissions)).unwrap_or_default(),
            };
            ctx.call::<op::CreateRootKey>(&request, &[]).await
        }
        RootKeysCommand::ListRootKeys(a) => {
            let request = ListRootKeysRequest {
                limit: a.limit,
                cursor: a.cursor,
            };
            ctx.call::<op::ListRootKeys>(&request, ROOT_KEY_COLUMNS)
                .await
        }
        RootKeysCommand::DeleteRootKey(a) => {
            ctx.call::<op::DeleteRootKey>(&DeleteRootKeyRequest { key_id: a.key_id }, &[])
                .await
        }
    }
}
