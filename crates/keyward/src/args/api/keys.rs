//! `keyward api keys …`

use clap::{Subcommand, ValueEnum};
use keyward_types::Nullable;
use keyward_types::keys::{
    KeyCredits, RatelimitRequest, UpdateCredits, VerifyCredits, VerifyRatelimit,
};
use serde_json::{Map, Value};

use crate::args::{Json, json};

pub type Meta = Map<String, Value>;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Issue a key for one of your customers. The key itself is shown only in this response:
    /// hand it over now. Needs `create_key` on the API.
    #[command(after_help = "Examples:
  keyward api keys create-key --api-id=api_1234abcd
  keyward api keys create-key --api-id=api_1234abcd --prefix=sk --external-id=user_123 --name=\"CI token\"
  keyward api keys create-key --api-id=api_1234abcd --credits-json='{\"remaining\":1000,\"refill\":{\"interval\":\"monthly\",\"amount\":1000,\"refillDay\":1}}'
  keyward api keys create-key --api-id=api_1234abcd --permissions=documents.read,documents.write --meta-json='{\"plan\":\"pro\"}'")]
    CreateKey(CreateKeyArgs),

    /// Show a key by its id: state, credits, identity, permissions. Never the key itself.
    /// Needs `read_key` on its API.
    #[command(after_help = "Examples:
  keyward api keys get-key --key-id=key_1234abcd
  keyward api keys get-key --key-id=key_1234abcd --output=table")]
    GetKey(GetKeyArgs),

    /// Show the key behind a key string, e.g. one a customer sent you. Needs `read_key`.
    #[command(after_help = "Examples:
  keyward api keys whoami --key=sk_5j2HqBYm3yq9tK
  printf %s \"$CUSTOMER_KEY\" | keyward api keys whoami --key=-")]
    Whoami(WhoamiArgs),

    /// Change a key: name, customer, meta, expiry, credits, rate limits, permissions, roles, or
    /// enable/disable it. Fields you leave out stay as they are. Needs `update_key`.
    #[command(after_help = "Examples:
  keyward api keys update-key --key-id=key_1234abcd --enabled=false      # disable: verifications answer DISABLED
  keyward api keys update-key --key-id=key_1234abcd --enabled            # enable again
  keyward api keys update-key --key-id=key_1234abcd --name=\"deploy bot\" --clear-expires
  keyward api keys update-key --key-id=key_1234abcd --credits-json='{\"remaining\":500}'
  keyward api keys update-key --key-id=key_1234abcd --meta-json=null    # remove meta")]
    UpdateKey(UpdateKeyArgs),

    /// Set, add to or take from a key's credits; prints the credits afterwards. Needs `update_key`.
    #[command(after_help = "Examples:
  keyward api keys update-credits --key-id=key_1234abcd --operation=set --value=1000
  keyward api keys update-credits --key-id=key_1234abcd --operation=increment --value=50
  keyward api keys update-credits --key-id=key_1234abcd --operation=set --value=null   # unlimited")]
    UpdateCredits(UpdateCreditsArgs),

    /// Replace a key with a new one carrying the same settings; the old one keeps working for
    /// `--expiration` milliseconds. The new key is shown only now. Needs `create_key`.
    #[command(after_help = "Examples:
  keyward api keys reroll-key --key-id=key_1234abcd --expiration=0            # old key stops now
  keyward api keys reroll-key --key-id=key_1234abcd --expiration=86400000     # old key works one more day")]
    RerollKey(RerollKeyArgs),

    /// Delete a key: verifications answer NOT_FOUND from the moment this returns. Soft by
    /// default (the record stays for the audit trail); --permanent erases it. For a temporary
    /// suspension use `update-key --enabled=false` instead. Needs `delete_key`.
    #[command(after_help = "Examples:
  keyward api keys delete-key --key-id=key_1234abcd
  keyward api keys delete-key --key-id=key_1234abcd --permanent
  keyward api keys delete-key --key-id=key_1234abcd --output=json")]
    DeleteKey(DeleteKeyArgs),

    /// Verify a key as your service would on each request: prints `valid` and `code` (VALID,
    /// NOT_FOUND, DISABLED, EXPIRED, USAGE_EXCEEDED, …). An invalid key is still a successful
    /// call (exit 0): check `.data.valid`. Needs `verify_key`.
    #[command(after_help = "Examples:
  keyward api keys verify-key --key=sk_5j2HqBYm3yq9tK
  keyward api keys verify-key --key=sk_5j2HqBYm3yq9tK --credits-json='{\"cost\":5}' --tags=path=/v1/charge,region=eu
  keyward api keys verify-key --key=sk_5j2HqBYm3yq9tK --permissions='documents.read AND documents.write'
  printf %s \"$CUSTOMER_KEY\" | keyward api keys verify-key --key=- --output=json")]
    VerifyKey(VerifyKeyArgs),

    /// Delete every key of one customer in an API (beyond Unkey's CLI). Lists all matching keys
    /// across pages, asks for confirmation on a terminal unless --yes, shows progress on stderr,
    /// and ends with a summary: deleted / already gone / failed. Safe to interrupt and re-run.
    /// Exits 0 only if nothing failed.
    #[command(after_help = "Examples:
  keyward api keys delete-keys --api-id=api_1234abcd --external-id=user_123
  keyward api keys delete-keys --api-id=api_1234abcd --external-id=user_123 --permanent --yes
  keyward api keys delete-keys --api-id=api_1234abcd --external-id=user_123 --yes --output=json")]
    DeleteKeys(DeleteKeysArgs),

    /// Disable every key of one customer in an API: verifications answer DISABLED until
    /// `enable-keys`. Same listing, confirmation, progress and summary as delete-keys.
    #[command(after_help = "Examples:
  keyward api keys disable-keys --api-id=api_1234abcd --external-id=user_123
  keyward api keys disable-keys --api-id=api_1234abcd --external-id=user_123 --yes")]
    DisableKeys(BulkArgs),

    /// Enable again every key of one customer in an API, e.g. after `disable-keys`.
    #[command(after_help = "Examples:
  keyward api keys enable-keys --api-id=api_1234abcd --external-id=user_123 --yes")]
    EnableKeys(BulkArgs),

    /// Grant permissions (slugs) to a key; missing ones are created, which needs
    /// `rbac.*.create_permission`. Prints the key's direct permissions. Needs `update_key` and
    /// `rbac.*.add_permission_to_key`.
    #[command(after_help = "Examples:
  keyward api keys add-permissions --key-id=key_1234abcd --permissions=documents.read,documents.write")]
    AddPermissions(KeyPermissionsArgs),

    /// Take permissions (slugs or ids) from a key, effective on its next verification. Needs
    /// `update_key` and `rbac.*.remove_permission_from_key`.
    #[command(after_help = "Examples:
  keyward api keys remove-permissions --key-id=key_1234abcd --permissions=documents.write")]
    RemovePermissions(KeyPermissionsArgs),

    /// Replace every direct permission of a key; `--permissions=` removes them all. Needs
    /// `update_key`, `rbac.*.add_permission_to_key` and `rbac.*.remove_permission_from_key`.
    #[command(after_help = "Examples:
  keyward api keys set-permissions --key-id=key_1234abcd --permissions=documents.read
  keyward api keys set-permissions --key-id=key_1234abcd --permissions=")]
    SetPermissions(KeyPermissionsArgs),

    /// Give roles (names, which must exist) to a key. Needs `update_key` and
    /// `rbac.*.add_role_to_key`.
    #[command(after_help = "Examples:
  keyward api keys add-roles --key-id=key_1234abcd --roles=support")]
    AddRoles(KeyRolesArgs),

    /// Take roles from a key, effective on its next verification. Needs `update_key`.
    #[command(after_help = "Examples:
  keyward api keys remove-roles --key-id=key_1234abcd --roles=support")]
    RemoveRoles(KeyRolesArgs),

    /// Replace every role of a key; `--roles=` removes them all. Needs `update_key`.
    #[command(after_help = "Examples:
  keyward api keys set-roles --key-id=key_1234abcd --roles=support,billing
  keyward api keys set-roles --key-id=key_1234abcd --roles=")]
    SetRoles(KeyRolesArgs),
}

#[derive(Debug, clap::Args)]
pub struct KeyPermissionsArgs {
    /// The key. Example: --key-id=key_1234abcd
    #[arg(long)]
    pub key_id: String,
    /// Permission slugs, comma-separated or repeated. Example: --permissions=documents.read
    #[arg(long, required = true, value_delimiter = ',', value_name = "SLUG,…")]
    pub permissions: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct KeyRolesArgs {
    /// The key. Example: --key-id=key_1234abcd
    #[arg(long)]
    pub key_id: String,
    /// Role names, comma-separated or repeated. Example: --roles=support
    #[arg(long, required = true, value_delimiter = ',', value_name = "ROLE,…")]
    pub roles: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct CreateKeyArgs {
    /// The API the key belongs to. Example: --api-id=api_1234abcd
    #[arg(long)]
    pub api_id: String,
    /// Prepended to the key with an underscore, 1 to 16 letters, digits or underscores.
    /// Example: --prefix=sk
    #[arg(long)]
    pub prefix: Option<String>,
    /// A name for people, 1 to 255 characters. Example: --name="CI token"
    #[arg(long)]
    pub name: Option<String>,
    /// Random bytes in the key, 16 to 255 (default 16). Example: --byte-length=32
    #[arg(long)]
    pub byte_length: Option<i64>,
    /// Your id for the customer who owns the key; bulk commands select keys by it.
    /// Example: --external-id=user_123
    #[arg(long)]
    pub external_id: Option<String>,
    /// Any JSON object you want returned on every verification (at most 100 properties).
    /// Example: --meta-json='{"plan":"pro"}'
    #[arg(long, value_name = "JSON", value_parser = json::<Meta>)]
    pub meta_json: Option<Json<Meta>>,
    /// Role names to grant, comma-separated or repeated. Example: --roles=admin,billing
    #[arg(long, value_delimiter = ',', value_name = "ROLE,…")]
    pub roles: Option<Vec<String>>,
    /// Permission slugs to grant, comma-separated or repeated. Example: --permissions=documents.read,documents.write
    #[arg(long, value_delimiter = ',', value_name = "SLUG,…")]
    pub permissions: Option<Vec<String>>,
    /// When the key stops working, in unix milliseconds. Example: --expires=1767225600000
    #[arg(long, value_name = "UNIX_MS")]
    pub expires: Option<i64>,
    /// Credits: `remaining` (null = unlimited) and an optional `refill` {interval daily|monthly,
    /// amount, refillDay}. Example: --credits-json='{"remaining":1000}'
    #[arg(long, value_name = "JSON", value_parser = json::<KeyCredits>)]
    pub credits_json: Option<Json<KeyCredits>>,
    /// Rate limits as a JSON array of {name, limit, duration (ms), autoApply}.
    /// Example: --ratelimits-json='[{"name":"requests","limit":100,"duration":60000,"autoApply":true}]'
    #[arg(long, value_name = "JSON", value_parser = json::<Vec<RatelimitRequest>>)]
    pub ratelimits_json: Option<Json<Vec<RatelimitRequest>>>,
    /// Whether the key works right away (default true). Example: --enabled=false
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub enabled: Option<bool>,
    /// Store the key encrypted so it can be shown again. keyward never stores keys in a
    /// recoverable form, so the server refuses (412). Example: --recoverable
    #[arg(long)]
    pub recoverable: bool,
}

#[derive(Debug, clap::Args)]
pub struct GetKeyArgs {
    /// The key's id (`key_…`) from create-key, not the key itself. Example: --key-id=key_1234abcd
    #[arg(long)]
    pub key_id: String,
    /// Return the plaintext key. keyward never stores it, so the server refuses (412).
    /// Example: --decrypt
    #[arg(long)]
    pub decrypt: bool,
}

#[derive(Debug, clap::Args)]
pub struct WhoamiArgs {
    /// The key string itself, or `-` to read it from stdin (keeps it out of `ps` and history).
    /// Example: --key=sk_5j2HqBYm3yq9tK
    #[arg(long, value_name = "KEY")]
    pub key: String,
}

#[derive(Debug, clap::Args)]
pub struct UpdateKeyArgs {
    /// The key to change. Example: --key-id=key_1234abcd
    #[arg(long)]
    pub key_id: String,
    /// A new name. Example: --name="deploy bot"
    #[arg(long, conflicts_with = "clear_name")]
    pub name: Option<String>,
    /// Remove the name. Example: --clear-name
    #[arg(long)]
    pub clear_name: bool,
    /// Move the key to another customer. Example: --external-id=user_456
    #[arg(long, conflicts_with = "clear_external_id")]
    pub external_id: Option<String>,
    /// Detach the key from its customer. Example: --clear-external-id
    #[arg(long)]
    pub clear_external_id: bool,
    /// Replace the meta object; `null` removes it. Example: --meta-json='{"plan":"enterprise"}'
    #[arg(long, value_name = "JSON", value_parser = json::<Nullable<Meta>>)]
    pub meta_json: Option<Json<Nullable<Meta>>>,
    /// A new expiry in unix milliseconds. Example: --expires=1767225600000
    #[arg(long, value_name = "UNIX_MS", conflicts_with = "clear_expires")]
    pub expires: Option<i64>,
    /// Remove the expiry: the key never expires. Example: --clear-expires
    #[arg(long)]
    pub clear_expires: bool,
    /// Change credits: `remaining` (null = unlimited) and/or `refill` (null removes it); `null`
    /// for the whole object makes credits unlimited. Example: --credits-json='{"remaining":500}'
    #[arg(long, value_name = "JSON", value_parser = json::<Nullable<UpdateCredits>>)]
    pub credits_json: Option<Json<Nullable<UpdateCredits>>>,
    /// Replace the key's rate limits (matched by name; missing ones are removed), as a JSON
    /// array. Example: --ratelimits-json='[{"name":"requests","limit":10,"duration":1000}]'
    #[arg(long, value_name = "JSON", value_parser = json::<Vec<RatelimitRequest>>)]
    pub ratelimits_json: Option<Json<Vec<RatelimitRequest>>>,
    /// `false` disables the key (verifications answer DISABLED), `true` (or the bare flag)
    /// enables it again. Example: --enabled=false
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub enabled: Option<bool>,
    /// Replace the key's roles, comma-separated or repeated; `--roles=` removes all.
    /// Example: --roles=admin
    #[arg(long, value_delimiter = ',', value_name = "ROLE,…")]
    pub roles: Option<Vec<String>>,
    /// Replace the key's direct permissions, comma-separated or repeated; `--permissions=`
    /// removes all. Example: --permissions=documents.read
    #[arg(long, value_delimiter = ',', value_name = "SLUG,…")]
    pub permissions: Option<Vec<String>>,
}

/// `--operation` of update-credits.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CreditsOperationArg {
    Set,
    Increment,
    Decrement,
}

#[derive(Debug, clap::Args)]
pub struct UpdateCreditsArgs {
    /// The key whose credits to change. Example: --key-id=key_1234abcd
    #[arg(long)]
    pub key_id: String,
    /// `set` replaces the balance, `increment` adds, `decrement` subtracts (not below 0).
    /// Example: --operation=increment
    #[arg(long, value_enum)]
    pub operation: CreditsOperationArg,
    /// The amount, 0 or more; with `set`, `null` makes credits unlimited (the server answers 400
    /// when it is missing). Example: --value=100
    #[arg(long, value_name = "N|null", value_parser = nullable_count)]
    pub value: Option<Nullable<i64>>,
}

/// A whole number, or `null`.
pub fn nullable_count(text: &str) -> Result<Nullable<i64>, String> {
    match text {
        "null" => Ok(Nullable::Null),
        _ => text
            .parse::<i64>()
            .map(Nullable::Value)
            .map_err(|_| "expected a whole number, or null".to_owned()),
    }
}

#[derive(Debug, clap::Args)]
pub struct RerollKeyArgs {
    /// The key to replace. Example: --key-id=key_1234abcd
    #[arg(long)]
    pub key_id: String,
    /// Milliseconds the old key keeps working (0 revokes it at once); `null` leaves it working
    /// until its own expiry, if any. Example: --expiration=3600000
    #[arg(long, value_name = "MS|null", value_parser = nullable_count)]
    pub expiration: Nullable<i64>,
}

#[derive(Debug, clap::Args)]
pub struct DeleteKeyArgs {
    /// The key's id (`key_…`) from create-key, not the key string your customer sends.
    /// Example: --key-id=key_1234abcd
    #[arg(long)]
    pub key_id: String,
    /// Erase the key and its hash for good instead of keeping the record for the audit trail.
    /// Cannot be undone. Example: --permanent
    #[arg(long)]
    pub permanent: bool,
}

#[derive(Debug, clap::Args)]
pub struct VerifyKeyArgs {
    /// The key string your customer sent, or `-` to read it from stdin. Example: --key=sk_5j2HqBYm3yq9tK
    #[arg(long, value_name = "KEY")]
    pub key: String,
    /// Labels recorded with the verification, comma-separated or repeated (at most 20).
    /// Example: --tags=path=/v1/charge,region=eu
    #[arg(long, value_delimiter = ',', value_name = "TAG,…")]
    pub tags: Option<Vec<String>>,
    /// A permission query the key must satisfy. Example: --permissions='documents.read AND documents.write'
    #[arg(long, value_name = "QUERY")]
    pub permissions: Option<String>,
    /// Credits this verification costs, as {"cost": N} (default 1 for keys with credits).
    /// Example: --credits-json='{"cost":5}'
    #[arg(long, value_name = "JSON", value_parser = json::<VerifyCredits>)]
    pub credits_json: Option<Json<VerifyCredits>>,
    /// Rate limits to apply, as a JSON array of {name, cost?, limit?, duration?}.
    /// Example: --ratelimits-json='[{"name":"requests"}]'
    #[arg(long, value_name = "JSON", value_parser = json::<Vec<VerifyRatelimit>>)]
    pub ratelimits_json: Option<Json<Vec<VerifyRatelimit>>>,
    /// Verify a key imported with keys.migrateKeys under this migration. Example: --migration-id=mig_123
    #[arg(long)]
    pub migration_id: Option<String>,
    /// Only a key of these keyspaces (API ids) verifies; a key of another answers NOT_FOUND.
    /// Comma-separated or repeated. Example: --keyspaces=api_1234abcd
    #[arg(long, value_delimiter = ',', value_name = "API_ID,…")]
    pub keyspaces: Option<Vec<String>>,
}

/// The selection and safety flags shared by delete-keys, disable-keys and enable-keys.
#[derive(Debug, clap::Args)]
pub struct BulkArgs {
    /// The API whose keys to change. Example: --api-id=api_1234abcd
    #[arg(long)]
    pub api_id: String,
    /// The customer whose keys to change (the externalId given at create-key).
    /// Example: --external-id=user_123
    #[arg(long)]
    pub external_id: String,
    /// Do not ask for confirmation. Required when stdin is not a terminal (scripts, CI).
    /// Example: --yes
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Keys per listing page (1 to 100). Example: --page-size=100
    #[arg(long, hide = true, default_value_t = 100)]
    pub page_size: i64,
    /// Pause between two changes, in milliseconds, to go easy on a busy server. Example: --pause-ms=20
    #[arg(long, hide = true, default_value_t = 0)]
    pub pause_ms: u64,
}

#[derive(Debug, clap::Args)]
pub struct DeleteKeysArgs {
    #[command(flatten)]
    pub bulk: BulkArgs,
    /// Erase the keys and their hashes for good instead of keeping the records for the audit
    /// trail. Cannot be undone. Example: --permanent
    #[arg(long)]
    pub permanent: bool,
}
