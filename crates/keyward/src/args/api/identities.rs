//! `keyward api identities …`: your users or customers, whose meta their keys carry.

use clap::Subcommand;

use super::keys::Meta;
use super::permissions::ListArgs;
use keyward_types::keys::RatelimitRequest;

use crate::args::{Json, json};

#[derive(Debug, Subcommand)]
pub enum IdentitiesCommand {
    /// Create an identity for one of your users or customers, named by your own id. Keys
    /// created with the same --external-id belong to it. Needs `identity.*.create_identity`.
    #[command(after_help = "Examples:
  keyward api identities create-identity --external-id=user_123
  keyward api identities create-identity --external-id=org_9 --meta-json='{\"plan\":\"pro\"}'
  keyward api identities create-identity --external-id=org_9 --ratelimits-json='[{\"name\":\"requests\",\"limit\":1000,\"duration\":60000,\"autoApply\":true}]'")]
    CreateIdentity(CreateIdentityArgs),

    /// Show an identity, by id or externalId. Needs `identity.*.read_identity`.
    #[command(after_help = "Examples:
  keyward api identities get-identity --identity=user_123")]
    GetIdentity(IdentityArgs),

    /// List identities in id order, optionally those whose externalId contains --search.
    /// Needs `identity.*.read_identity`.
    #[command(after_help = "Examples:
  keyward api identities list-identities --output=table
  keyward api identities list-identities --search=org_ --limit=50")]
    ListIdentities(ListArgs),

    /// Replace an identity's meta (`{}` removes it); its keys' verifications carry the new one
    /// at once. Needs `identity.*.update_identity`.
    #[command(after_help = "Examples:
  keyward api identities update-identity --identity=user_123 --meta-json='{\"plan\":\"enterprise\"}'
  keyward api identities update-identity --identity=id_1234abcd --meta-json='{}'")]
    UpdateIdentity(UpdateIdentityArgs),

    /// Delete an identity: its keys keep working, without it, from now on; its externalId can
    /// be given to a new identity. Needs `identity.*.delete_identity`.
    #[command(after_help = "Examples:
  keyward api identities delete-identity --identity=user_123")]
    DeleteIdentity(IdentityArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateIdentityArgs {
    /// Your id for the user or customer: letters, digits, `_ . -`. Example: --external-id=user_123
    #[arg(long)]
    pub external_id: String,
    /// Any JSON object returned with every verification of its keys. Example: --meta-json='{"plan":"pro"}'
    #[arg(long, value_name = "JSON", value_parser = json::<Meta>)]
    pub meta_json: Option<Json<Meta>>,
    /// Rate limits shared by all its keys: a JSON array of {name, limit, duration, autoApply}.
    /// Example: --ratelimits-json='[{"name":"requests","limit":1000,"duration":86400000,"autoApply":true}]'
    #[arg(long, value_name = "JSON", value_parser = json::<Vec<RatelimitRequest>>)]
    pub ratelimits_json: Option<Json<Vec<RatelimitRequest>>>,
}

#[derive(Debug, clap::Args)]
pub struct IdentityArgs {
    /// The identity's id (`id_…`) or externalId. Example: --identity=user_123
    #[arg(long)]
    pub identity: String,
}

#[derive(Debug, clap::Args)]
pub struct UpdateIdentityArgs {
    /// The identity's id or externalId. Example: --identity=user_123
    #[arg(long)]
    pub identity: String,
    /// The new meta object; `{}` removes it. Example: --meta-json='{"plan":"enterprise"}'
    #[arg(long, value_name = "JSON", value_parser = json::<Meta>)]
    pub meta_json: Option<Json<Meta>>,
    /// Replaces its rate limits by name (`[]` removes them all).
    /// Example: --ratelimits-json='[{"name":"requests","limit":10,"duration":1000}]'
    #[arg(long, value_name = "JSON", value_parser = json::<Vec<RatelimitRequest>>)]
    pub ratelimits_json: Option<Json<Vec<RatelimitRequest>>>,
}
