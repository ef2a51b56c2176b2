//! `keyward api permissions …`: the permissions your keys hold and the roles that group them.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum PermissionsCommand {
    /// Create a permission keys and roles can hold; verify-key --permissions names it by its
    /// slug. Needs `rbac.*.create_permission`.
    #[command(after_help = "Examples:
  keyward api permissions create-permission --name='Read documents' --slug=documents.read
  keyward api permissions create-permission --name='Write documents' --slug=documents.write --description='Create and edit'")]
    CreatePermission(CreatePermissionArgs),

    /// Show a permission, by id or slug. Needs `rbac.*.read_permission`.
    #[command(after_help = "Examples:
  keyward api permissions get-permission --permission=documents.read
  keyward api permissions get-permission --permission=perm_1234abcd --output=json")]
    GetPermission(PermissionArgs),

    /// List permissions in id order, optionally those whose name or slug contains --search.
    /// Needs `rbac.*.read_permission`.
    #[command(after_help = "Examples:
  keyward api permissions list-permissions --output=table
  keyward api permissions list-permissions --search=documents --limit=20")]
    ListPermissions(ListArgs),

    /// Rename a permission, or change its slug or description; its keys and roles keep it.
    /// Needs `rbac.*.update_permission`.
    #[command(after_help = "Examples:
  keyward api permissions update-permission --permission=documents.read --slug=docs.read
  keyward api permissions update-permission --permission=perm_1234abcd --clear-description")]
    UpdatePermission(UpdatePermissionArgs),

    /// Delete a permission: every key and role loses it at once. Needs `rbac.*.delete_permission`.
    #[command(after_help = "Examples:
  keyward api permissions delete-permission --permission=documents.read")]
    DeletePermission(PermissionArgs),

    /// Create a role, optionally with permissions (slugs; missing ones are created, which needs
    /// `rbac.*.create_permission`). Needs `rbac.*.create_role` (and
    /// `rbac.*.add_permission_to_role` with --permissions).
    #[command(after_help = "Examples:
  keyward api permissions create-role --name=support --permissions=documents.read,comments.read
  keyward api permissions create-role --name=admin --description='Everything'")]
    CreateRole(CreateRoleArgs),

    /// Show a role and its permissions, by id or name. Needs `rbac.*.read_role`.
    #[command(after_help = "Examples:
  keyward api permissions get-role --role=support")]
    GetRole(RoleArgs),

    /// List roles with their permissions, optionally those whose name contains --search.
    /// Needs `rbac.*.read_role`.
    #[command(after_help = "Examples:
  keyward api permissions list-roles --output=table
  keyward api permissions list-roles --search=sup")]
    ListRoles(ListArgs),

    /// Rename a role or change its description; its keys keep it. Needs `rbac.*.update_role`.
    #[command(after_help = "Examples:
  keyward api permissions update-role --role=support --name=helpdesk
  keyward api permissions update-role --role=role_1234abcd --description='First line'")]
    UpdateRole(UpdateRoleArgs),

    /// Delete a role: every key loses it at once. Needs `rbac.*.delete_role`.
    #[command(after_help = "Examples:
  keyward api permissions delete-role --role=support")]
    DeleteRole(RoleArgs),

    /// Replace every permission of a role; its keys see the change at once. `--permissions=`
    /// removes them all. Needs `rbac.*.add_permission_to_role` and
    /// `rbac.*.remove_permission_from_role`.
    #[command(after_help = "Examples:
  keyward api permissions set-role-permissions --role=support --permissions=documents.read
  keyward api permissions set-role-permissions --role=support --permissions=")]
    SetRolePermissions(SetRolePermissionsArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreatePermissionArgs {
    /// A name for people, 1 to 512 characters. Example: --name='Read documents'
    #[arg(long)]
    pub name: String,
    /// What keys and queries name it by: letters, digits, `_ : - . *`, unique whatever the
    /// case. Example: --slug=documents.read
    #[arg(long)]
    pub slug: String,
    /// Example: --description='Read any document'
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct PermissionArgs {
    /// The permission's id (`perm_…`) or slug. Example: --permission=documents.read
    #[arg(long)]
    pub permission: String,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Items per page, 1 to 100 (default 100). Example: --limit=20
    #[arg(long)]
    pub limit: Option<i64>,
    /// Continue after the previous page: pass its `pagination.cursor`. Example: --cursor=perm_01J…
    #[arg(long)]
    pub cursor: Option<String>,
    /// Only those whose name (or slug, or externalId) contains this, in any case.
    /// Example: --search=documents
    #[arg(long)]
    pub search: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct UpdatePermissionArgs {
    /// The permission's id or slug. Example: --permission=documents.read
    #[arg(long)]
    pub permission: String,
    /// A new name. Example: --name='Read docs'
    #[arg(long)]
    pub name: Option<String>,
    /// A new slug. Example: --slug=docs.read
    #[arg(long)]
    pub slug: Option<String>,
    /// A new description. Example: --description='Read any document'
    #[arg(long, conflicts_with = "clear_description")]
    pub description: Option<String>,
    /// Remove the description. Example: --clear-description
    #[arg(long)]
    pub clear_description: bool,
}

#[derive(Debug, clap::Args)]
pub struct CreateRoleArgs {
    /// Unique in the workspace, 1 to 128 characters. Example: --name=support
    #[arg(long)]
    pub name: String,
    /// Example: --description='First-line support'
    #[arg(long)]
    pub description: Option<String>,
    /// Permission slugs, comma-separated or repeated. Example: --permissions=documents.read
    #[arg(long, value_delimiter = ',', value_name = "SLUG,…")]
    pub permissions: Option<Vec<String>>,
}

#[derive(Debug, clap::Args)]
pub struct RoleArgs {
    /// The role's id (`role_…`) or name. Example: --role=support
    #[arg(long)]
    pub role: String,
}

#[derive(Debug, clap::Args)]
pub struct UpdateRoleArgs {
    /// The role's id or name. Example: --role=support
    #[arg(long)]
    pub role: String,
    /// A new name. Example: --name=helpdesk
    #[arg(long)]
    pub name: Option<String>,
    /// A new description. Example: --description='First line'
    #[arg(long, conflicts_with = "clear_description")]
    pub description: Option<String>,
    /// Remove the description. Example: --clear-description
    #[arg(long)]
    pub clear_description: bool,
}

#[derive(Debug, clap::Args)]
pub struct SetRolePermissionsArgs {
    /// The role's id or name. Example: --role=support
    #[arg(long)]
    pub role: String,
    /// Every permission the role is to have (slugs), comma-separated or repeated; empty
    /// removes them all. Example: --permissions=documents.read,comments.read
    #[arg(long, required = true, value_delimiter = ',', value_name = "SLUG,…")]
    pub permissions: Vec<String>,
}
