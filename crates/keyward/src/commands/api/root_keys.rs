//! `keyward api root-keys …`

use keyward_types::Nullable;
use keyward_types::operations as op;
use keyward_types::root_keys::{
    CreateRootKeyRequest, DeleteRootKeyRequest, ListRootKeysRequest, RerollRootKeyRequest,
    UpdateRootKeyRequest,
};

use super::{Ctx, list};
use crate::args::api::root_keys::{CreateRootKeyArgs, RootKeysCommand};
use crate::error::CliResult;
use crate::output::{Column, col, time_col};

const ROOT_KEY_COLUMNS: &[Column] = &[
    col("KEY ID", "/keyId"),
    col("START", "/start"),
    col("NAME", "/name"),
    col("ENABLED", "/enabled"),
    col("PERMISSIONS", "/permissions"),
    time_col("CREATED", "/createdAt"),
    time_col("EXPIRES", "/expires"),
];

fn create_request(a: CreateRootKeyArgs) -> CreateRootKeyRequest {
    CreateRootKeyRequest {
        name: a.name,
        permissions: list(Some(a.permissions)).unwrap_or_default(),
        expires: a.expires.map_or(Nullable::Absent, Nullable::Value),
    }
}

pub async fn run(ctx: &Ctx, command: RootKeysCommand) -> CliResult {
    match command {
        RootKeysCommand::CreateKey(a) => {
            ctx.call::<op::CreateRootKeyUnkey>(&create_request(a), &[])
                .await
        }
        RootKeysCommand::CreateRootKey(a) => {
            ctx.call::<op::CreateRootKey>(&create_request(a), &[]).await
        }
        RootKeysCommand::ListKeys(a) => {
            let request = ListRootKeysRequest {
                limit: a.limit,
                cursor: a.cursor,
            };
            ctx.call::<op::ListRootKeysUnkey>(&request, ROOT_KEY_COLUMNS)
                .await
        }
        RootKeysCommand::ListRootKeys(a) => {
            let request = ListRootKeysRequest {
                limit: a.limit,
                cursor: a.cursor,
            };
            ctx.call::<op::ListRootKeys>(&request, ROOT_KEY_COLUMNS)
                .await
        }
        RootKeysCommand::UpdateKey(a) => {
            let request = UpdateRootKeyRequest {
                key_id: a.key_id,
                name: match (a.name, a.clear_name) {
                    (Some(name), _) => Nullable::Value(name),
                    (None, true) => Nullable::Null,
                    (None, false) => Nullable::Absent,
                },
                enabled: a.enabled,
                permissions: list(a.permissions),
            };
            ctx.call::<op::UpdateRootKey>(&request, &[]).await
        }
        RootKeysCommand::RerollKey(a) => {
            let request = RerollRootKeyRequest {
                key_id: a.key_id,
                expiration: a.expiration,
            };
            ctx.call::<op::RerollRootKey>(&request, &[]).await
        }
        RootKeysCommand::DeleteKey(a) => {
            ctx.call::<op::DeleteRootKeyUnkey>(&DeleteRootKeyRequest { key_id: a.key_id }, &[])
                .await
        }
        RootKeysCommand::DeleteRootKey(a) => {
            ctx.call::<op::DeleteRootKey>(&DeleteRootKeyRequest { key_id: a.key_id }, &[])
                .await
        }
    }
}
