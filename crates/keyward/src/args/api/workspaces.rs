//! `keyward api workspaces …` (keyward extension)

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum WorkspacesCommand {
    /// Create a workspace, a tenant whose data other workspaces cannot see, with a root key
    /// holding every workspace permission (shown only now). Needs the instance-level
    /// `workspace.*.create_workspace` (the bootstrap root key has it).
    #[command(after_help = "Examples:
  keyward api workspaces create-workspace --name=acme
  keyward api workspaces create-workspace --name=acme --output=json")]
    CreateWorkspace(CreateWorkspaceArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateWorkspaceArgs {
    /// A name for the workspace, 1 to 255 characters. Example: --name=acme
    #[arg(long)]
    pub name: String,
}
