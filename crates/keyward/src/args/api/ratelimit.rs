//! `keyward api ratelimit …`: the standalone rate limiter and its overrides.

use clap::Subcommand;
use keyward_types::ratelimit::LimitRequest;

use crate::args::{Json, json};

#[derive(Debug, Subcommand)]
pub enum RatelimitCommand {
    /// Spend --cost (default 1) of an identifier's limit in a namespace; prints `success`,
    /// `remaining` and `reset` (unix ms). Unknown namespaces are created when the root key may
    /// (`ratelimit.*.create_namespace`). Needs `ratelimit.*.limit` or `ratelimit.<namespaceId>.limit`.
    #[command(after_help = "Examples:
  keyward api ratelimit limit --namespace=email.outbound --identifier=user_123 --limit=100 --duration=60000
  keyward api ratelimit limit --namespace=rlns_1234abcd --identifier=203.0.113.7 --limit=10 --duration=1000 --cost=0")]
    Limit(LimitArgs),

    /// Decide several limits together: all are charged, or none if one fails. Needs `limit` on
    /// every namespace.
    #[command(after_help = "Examples:
  keyward api ratelimit multi-limit --limits-json='[{\"namespace\":\"api\",\"identifier\":\"user_1\",\"limit\":100,\"duration\":60000},{\"namespace\":\"api.daily\",\"identifier\":\"user_1\",\"limit\":5000,\"duration\":86400000}]'")]
    MultiLimit(MultiLimitArgs),

    /// Give an identifier, or every identifier matching a `*` pattern, its own limit in a
    /// namespace (setting it again changes it in place). Needs `ratelimit.*.set_override`.
    #[command(after_help = "Examples:
  keyward api ratelimit set-override --namespace=api --identifier=user_vip --limit=1000 --duration=60000
  keyward api ratelimit set-override --namespace=api --identifier='*@acme.com' --limit=0 --duration=60000")]
    SetOverride(SetOverrideArgs),

    /// Show the override that applies to an identifier (exact first, else the oldest matching
    /// pattern). Needs `ratelimit.*.read_override`.
    #[command(after_help = "Examples:
  keyward api ratelimit get-override --namespace=api --identifier=user_vip")]
    GetOverride(OverrideArgs),

    /// List a namespace's overrides. Needs `ratelimit.*.read_override`.
    #[command(after_help = "Examples:
  keyward api ratelimit list-overrides --namespace=api --output=table
  keyward api ratelimit list-overrides --namespace=api --limit=100 --cursor=rlor_1234abcd")]
    ListOverrides(ListOverridesArgs),

    /// Delete the override whose identifier (or pattern) is exactly --identifier. Needs
    /// `ratelimit.*.delete_override`.
    #[command(after_help = "Examples:
  keyward api ratelimit delete-override --namespace=api --identifier='*@acme.com'")]
    DeleteOverride(OverrideArgs),
}

#[derive(Debug, clap::Args)]
pub struct LimitArgs {
    /// The namespace's name or id. Example: --namespace=email.outbound
    #[arg(long)]
    pub namespace: String,
    /// Who is limited: a user id, an IP address. Example: --identifier=user_123
    #[arg(long)]
    pub identifier: String,
    /// Cost admitted per window. Example: --limit=100
    #[arg(long)]
    pub limit: i64,
    /// Window length in milliseconds, 1000 to 2592000000. Example: --duration=60000
    #[arg(long)]
    pub duration: i64,
    /// What this call costs (default 1; 0 checks without spending). Example: --cost=5
    #[arg(long)]
    pub cost: Option<i64>,
}

#[derive(Debug, clap::Args)]
pub struct MultiLimitArgs {
    /// A JSON array of checks, each {namespace, identifier, limit, duration, cost?}.
    /// Example: --limits-json='[{"namespace":"api","identifier":"user_1","limit":100,"duration":60000}]'
    #[arg(long, value_name = "JSON", value_parser = json::<Vec<LimitRequest>>)]
    pub limits_json: Json<Vec<LimitRequest>>,
}

#[derive(Debug, clap::Args)]
pub struct SetOverrideArgs {
    /// The namespace's name or id. Example: --namespace=api
    #[arg(long)]
    pub namespace: String,
    /// An identifier, or a pattern with `*`. Example: --identifier='*@acme.com'
    #[arg(long)]
    pub identifier: String,
    /// Cost admitted per window; 0 blocks. Example: --limit=1000
    #[arg(long)]
    pub limit: i64,
    /// Window length in milliseconds. Example: --duration=60000
    #[arg(long)]
    pub duration: i64,
}

#[derive(Debug, clap::Args)]
pub struct OverrideArgs {
    /// The namespace's name or id. Example: --namespace=api
    #[arg(long)]
    pub namespace: String,
    /// The identifier. Example: --identifier=user_vip
    #[arg(long)]
    pub identifier: String,
}

#[derive(Debug, clap::Args)]
pub struct ListOverridesArgs {
    /// The namespace's name or id. Example: --namespace=api
    #[arg(long)]
    pub namespace: String,
    /// Overrides per page, 1 to 100 (default 10). Example: --limit=100
    #[arg(long)]
    pub limit: Option<i64>,
    /// The previous page's cursor. Example: --cursor=rlor_1234abcd
    #[arg(long)]
    pub cursor: Option<String>,
}
