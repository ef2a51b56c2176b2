//! `keyward api keys …`; the bulk commands live in [`bulk`].

mod bulk;

use keyward_types::Nullable;
use keyward_types::keys::{
    CreateKeyRequest, CreditsOperation, DeleteKeyRequest, GetKeyRequest, RerollKeyRequest,
    UpdateCreditsRequest, UpdateKeyRequest, VerifyKeyRequest, WhoamiRequest,
};
use keyward_types::operations as op;
use keyward_types::rbac::{
    AddPermissionsRequest, AddRolesRequest, RemovePermissionsRequest, RemoveRolesRequest,
    SetPermissionsRequest, SetRolesRequest,
};

use super::{Ctx, flag, list, secret_arg};
use crate::args::Json;
use crate::args::api::keys::{CreditsOperationArg, KeysCommand, UpdateKeyArgs};
use crate::error::CliResult;
use crate::output::{Column, col};

pub async fn run(ctx: &Ctx, command: KeysCommand) -> CliResult {
    match command {
        KeysCommand::CreateKey(a) => {
            let request = CreateKeyRequest {
                api_id: a.api_id,
                prefix: a.prefix,
                name: a.name,
                byte_length: a.byte_length,
                external_id: a.external_id,
                meta: a.meta_json.map(|Json(m)| m),
                roles: list(a.roles),
                permissions: list(a.permissions),
                expires: a.expires,
                credits: a.credits_json.map(|Json(c)| c),
                ratelimits: a.ratelimits_json.map(|Json(r)| r),
                enabled: a.enabled,
                recoverable: flag(a.recoverable),
            };
            ctx.call::<op::CreateKey>(&request, &[]).await
        }
        KeysCommand::GetKey(a) => {
            ctx.call::<op::GetKey>(
                &GetKeyRequest {
                    key_id: a.key_id,
                    decrypt: flag(a.decrypt),
                },
                &[],
            )
            .await
        }
        KeysCommand::Whoami(a) => {
            ctx.call::<op::Whoami>(
                &WhoamiRequest {
                    key: secret_arg(a.key, "--key")?,
                },
                &[],
            )
            .await
        }
        KeysCommand::UpdateKey(a) => ctx.call::<op::UpdateKey>(&update_key_request(a), &[]).await,
        KeysCommand::UpdateCredits(a) => {
            let operation = match a.operation {
                CreditsOperationArg::Set => CreditsOperation::Set,
                CreditsOperationArg::Increment => CreditsOperation::Increment,
                CreditsOperationArg::Decrement => CreditsOperation::Decrement,
            };
            let request = UpdateCreditsRequest {
                key_id: a.key_id,
                operation,
                value: a.value.unwrap_or_default(),
            };
            ctx.call::<op::UpdateCredits>(&request, &[]).await
        }
        KeysCommand::RerollKey(a) => {
            ctx.call::<op::RerollKey>(
                &RerollKeyRequest {
                    key_id: a.key_id,
                    expiration: a.expiration,
                },
                &[],
            )
            .await
        }
        KeysCommand::DeleteKey(a) => {
            let request = DeleteKeyRequest {
                key_id: a.key_id,
                permanent: flag(a.permanent),
            };
            ctx.call::<op::DeleteKey>(&request, &[]).await
        }
        KeysCommand::VerifyKey(a) => {
            let request = VerifyKeyRequest {
                key: secret_arg(a.key, "--key")?,
                tags: list(a.tags),
                permissions: a.permissions,
                credits: a.credits_json.map(|Json(c)| c),
                ratelimits: a.ratelimits_json.map(|Json(r)| r),
                migration_id: a.migration_id,
                keyspaces: list(a.keyspaces),
            };
            ctx.call::<op::VerifyKey>(&request, &[]).await
        }
        KeysCommand::DeleteKeys(a) => {
            bulk::run(
                ctx,
                &a.bulk,
                bulk::Action::Delete {
                    permanent: a.permanent,
                },
            )
            .await
        }
        KeysCommand::DisableKeys(a) => bulk::run(ctx, &a, bulk::Action::Disable).await,
        KeysCommand::EnableKeys(a) => bulk::run(ctx, &a, bulk::Action::Enable).await,
        KeysCommand::AddPermissions(a) => {
            let request = AddPermissionsRequest {
                key_id: a.key_id,
                permissions: list(Some(a.permissions)).unwrap_or_default(),
            };
            ctx.call::<op::AddPermissions>(&request, PERMISSION_COLUMNS)
                .await
        }
        KeysCommand::RemovePermissions(a) => {
            let request = RemovePermissionsRequest {
                key_id: a.key_id,
                permissions: list(Some(a.permissions)).unwrap_or_default(),
            };
            ctx.call::<op::RemovePermissions>(&request, PERMISSION_COLUMNS)
                .await
        }
        KeysCommand::SetPermissions(a) => {
            let request = SetPermissionsRequest {
                key_id: a.key_id,
                permissions: list(Some(a.permissions)).unwrap_or_default(),
            };
            ctx.call::<op::SetPermissions>(&request, PERMISSION_COLUMNS)
                .await
        }
        KeysCommand::AddRoles(a) => {
            let request = AddRolesRequest {
                key_id: a.key_id,
                roles: list(Some(a.roles)).unwrap_or_default(),
            };
            ctx.call::<op::AddRoles>(&request, ROLE_COLUMNS).await
        }
        KeysCommand::RemoveRoles(a) => {
            let request = RemoveRolesRequest {
                key_id: a.key_id,
                roles: list(Some(a.roles)).unwrap_or_default(),
            };
            ctx.call::<op::RemoveRoles>(&request, ROLE_COLUMNS).await
        }
        KeysCommand::SetRoles(a) => {
            let request = SetRolesRequest {
                key_id: a.key_id,
                roles: list(Some(a.roles)).unwrap_or_default(),
            };
            ctx.call::<op::SetRoles>(&request, ROLE_COLUMNS).await
        }
    }
}

const PERMISSION_COLUMNS: &[Column] =
    &[col("ID", "/id"), col("SLUG", "/slug"), col("NAME", "/name")];
const ROLE_COLUMNS: &[Column] = &[
    col("ID", "/id"),
    col("NAME", "/name"),
    col("PERMISSIONS", "/permissions"),
];

/// A set flag, a `--clear-…` flag, or neither.
fn nullable<T>(value: Option<T>, clear: bool) -> Nullable<T> {
    match (value, clear) {
        (Some(v), _) => Nullable::Value(v),
        (None, true) => Nullable::Null,
        (None, false) => Nullable::Absent,
    }
}

fn update_key_request(a: UpdateKeyArgs) -> UpdateKeyRequest {
    UpdateKeyRequest {
        key_id: a.key_id,
        name: nullable(a.name, a.clear_name),
        external_id: nullable(a.external_id, a.clear_external_id),
        meta: a.meta_json.map(|Json(m)| m).unwrap_or_default(),
        expires: nullable(a.expires, a.clear_expires),
        credits: a.credits_json.map(|Json(c)| c).unwrap_or_default(),
        ratelimits: a.ratelimits_json.map(|Json(r)| r),
        enabled: a.enabled,
        roles: list(a.roles),
        permissions: list(a.permissions),
    }
}
