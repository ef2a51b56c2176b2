//! `keyward api apis …`

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ApisCommand {
    /// Create an API, the namespace keys are issued in. Needs `api.*.create_api`.
    #[command(after_help = "Examples:
  keyward api apis create-api --name=payments-production
  keyward api apis create-api --name=payments-production --output=json")]
    CreateApi(CreateApiArgs),

    /// Show an API: its id, name and whether delete protection is on. Needs `read_api`.
    #[command(after_help = "Examples:
  keyward api apis get-api --api-id=api_1234abcd")]
    GetApi(GetApiArgs),

    /// Rename an API or switch its delete protection (keyward extension). Needs `update_api`.
    #[command(after_help = "Examples:
  keyward api apis update-api --api-id=api_1234abcd --name=payments-eu
  keyward api apis update-api --api-id=api_1234abcd --delete-protection
  keyward api apis update-api --api-id=api_1234abcd --delete-protection=false")]
    UpdateApi(UpdateApiArgs),

    /// Delete an API: every key in it stops verifying at once (NOT_FOUND). Cannot be undone.
    /// --permanent also erases the API and all its keys (those deleted before too), even once
    /// the API is deleted. Refused (412) while delete protection is on. Needs `delete_api`.
    #[command(after_help = "Examples:
  keyward api apis delete-api --api-id=api_1234abcd
  keyward api apis delete-api --api-id=api_1234abcd --permanent
  keyward api apis delete-api --api-id=api_1234abcd --output=json")]
    DeleteApi(DeleteApiArgs),

    /// List the live keys of an API, optionally of one customer, a page at a time.
    /// Needs `read_key` and `read_api`.
    #[command(after_help = "Examples:
  keyward api apis list-keys --api-id=api_1234abcd
  keyward api apis list-keys --api-id=api_1234abcd --external-id=user_123 --output=table
  keyward api apis list-keys --api-id=api_1234abcd --limit=10 --cursor=key_01J…")]
    ListKeys(ListKeysArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateApiArgs {
    /// A name for the API, 3 to 256 characters; it need not be unique.
    /// Example: --name=payments-production
    #[arg(long)]
    pub name: String,
}

#[derive(Debug, clap::Args)]
pub struct GetApiArgs {
    /// The API's id, as returned by create-api. Example: --api-id=api_1234abcd
    #[arg(long)]
    pub api_id: String,
}

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("change").required(true).multiple(true).args(["name", "delete_protection"]))]
pub struct UpdateApiArgs {
    /// The API to change. Example: --api-id=api_1234abcd
    #[arg(long)]
    pub api_id: String,
    /// A new name, 3 to 256 characters. Example: --name=payments-eu
    #[arg(long)]
    pub name: Option<String>,
    /// `true` (or the bare flag) makes delete-api answer 412 until it is switched off again with
    /// `false`. Example: --delete-protection=false
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub delete_protection: Option<bool>,
}

#[derive(Debug, clap::Args)]
pub struct DeleteApiArgs {
    /// The API to delete, with all its keys. Check it twice: this cannot be undone.
    /// Example: --api-id=api_1234abcd
    #[arg(long)]
    pub api_id: String,
    /// Erase the API and every key it holds, with their hashes and metadata, for good, instead
    /// of keeping the records; audit events stay. Cannot be undone. Example: --permanent
    #[arg(long)]
    pub permanent: bool,
}

#[derive(Debug, clap::Args)]
pub struct ListKeysArgs {
    /// The API whose keys to list. Example: --api-id=api_1234abcd
    #[arg(long)]
    pub api_id: String,
    /// Keys per page, 1 to 100 (default 100). Example: --limit=20
    #[arg(long)]
    pub limit: Option<i64>,
    /// Continue after the previous page: pass its `pagination.cursor` (the default output prints
    /// it on stderr when more pages follow). Example: --cursor=key_01J2X3Y4Z5
    #[arg(long)]
    pub cursor: Option<String>,
    /// Only the keys of this customer (the externalId given at create-key). Example: --external-id=user_123
    #[arg(long)]
    pub external_id: Option<String>,
    /// Return plaintext keys. keyward never stores them, so the server refuses (412); accepted
    /// for compatibility with Unkey. Example: --decrypt
    #[arg(long)]
    pub decrypt: bool,
    /// Accepted for compatibility with Unkey; keyward's cache never needs it. Example: --revalidate-keys-cache
    #[arg(long)]
    pub revalidate_keys_cache: bool,
}
