//! `keyward api workspaces …`

use keyward_types::operations as op;
use keyward_types::workspaces::CreateWorkspaceRequest;

use super::Ctx;
use crate::args::api::workspaces::WorkspacesCommand;
use crate::error::CliResult;

pub async fn run(ctx: &Ctx, command: WorkspacesCommand) -> CliResult {
    match command {
        WorkspacesCommand::CreateWorkspace(a) => {
            ctx.call::<op::CreateWorkspace>(&CreateWorkspaceRequest { name: a.name }, &[])
                .await
        }
    }
}
