//! `keyward api root-keys …` (keyward extension)

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum RootKeysCommand {
    /// Create a root key holding some permissions (at most those of the key you call with).
    /// The key is shown only in this response. Needs `rootkey.*.create_root_key`.
    #[command(after_help = "Examples:
  keyward api root-keys create-root-key --name=verifier --permissions=api.*.verify_key
  keyward api root-keys create-root-key --name=ops --permissions=api.*.read_key,api.*.delete_key,api.*.read_api")]
    CreateRootKey(CreateRootKeyArgs),

    /// List the workspace's root keys (never the keys themselves). Needs `rootkey.*.read_root_key`.
    #[command(after_help = "Examples:
  keyward api root-keys list-root-keys --output=table
  keyward api root-keys list-root-keys --limit=10 --cursor=key_01J…")]
    ListRootKeys(ListRootKeysArgs),

    /// Delete a root key: calls made with it fail with 401 from now on.
    /// Needs `rootkey.*.delete_root_key`.
    #[command(after_help = "Examples:
  keyward api root-keys delete-root-key --key-id=key_1234abcd")]
    DeleteRootKey(DeleteRootKeyArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateRootKeyArgs {
    /// A name for people, 1 to 255 characters. Example: --name=verifier
    #[arg(long)]
    pub name: Option<String>,
    /// Permissions to grant, `<resource>.<id or *>.<action>`, comma-separated or repeated.
    /// Example: --permissions=api.*.verify_key,api.*.read_key
    #[arg(
        long,
        required = true,
        value_delimiter = ',',
        value_name = "PERMISSION,…"
    )]
    pub permissions: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ListRootKeysArgs {
    /// Root keys per page, 1 to 100 (default 100). Example: --limit=20
    #[arg(long)]
    pub limit: Option<i64>,
    /// Continue after the previous page: pass its `pagination.cursor`. Example: --cursor=key_01J2X3Y4Z5
    #[arg(long)]
    pub cursor: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DeleteRootKeyArgs {
    /// The root key's id (`key_…`), as listed by list-root-keys. Example: --key-id=key_1234abcd
    #[arg(long)]
    pub key_id: String,
}
