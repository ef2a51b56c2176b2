//! `keyward api <group> <command>`: one module per group, one struct per operation.

pub mod apis;
pub mod audit_logs;
pub mod identities;
pub mod keys;
pub mod permissions;
pub mod ratelimit;
pub mod root_keys;
pub mod workspaces;

use clap::Subcommand;

use super::GlobalArgs;

#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub group: ApiGroup,
}

#[derive(Debug, Subcommand)]
pub enum ApiGroup {
    /// API namespaces: the containers of keys.
    #[command(subcommand)]
    Apis(apis::ApisCommand),
    /// Issue, read, change, verify and revoke keys; revoke a customer's keys in bulk.
    // Boxed: its `--meta-json` maps (serde_json's IndexMap-backed `Map`) make it the largest.
    #[command(subcommand)]
    Keys(Box<keys::KeysCommand>),
    /// Root keys: the keys that authorize calls to this API.
    #[command(subcommand)]
    RootKeys(root_keys::RootKeysCommand),
    /// Workspaces: isolated tenants of one keyward instance (keyward extension).
    #[command(subcommand)]
    Workspaces(workspaces::WorkspacesCommand),
    /// The audit log: who changed what (keyward extension).
    #[command(subcommand)]
    AuditLogs(audit_logs::AuditLogsCommand),
    /// Permissions your keys hold, and the roles that group them.
    #[command(subcommand)]
    Permissions(permissions::PermissionsCommand),
    /// Identities: your users or customers, whose meta their keys carry.
    #[command(subcommand)]
    Identities(identities::IdentitiesCommand),
    /// The standalone rate limiter: limit any identifier in a namespace; overrides.
    #[command(subcommand)]
    Ratelimit(ratelimit::RatelimitCommand),
    /// Check that the server answers (GET /v2/liveness). Needs no root key.
    #[command(after_help = "Examples:
  keyward api liveness
  keyward api liveness --api-url=https://keys.example.com --output=json")]
    Liveness,
}
