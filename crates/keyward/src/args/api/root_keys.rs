//! `keyward api root-keys …`: Unkey's names (`create-key`, `list-keys`, `update-key`,
//! `reroll-key`, `delete-key`) and keyward's earlier ones (`create-root-key`, `list-root-keys`,
//! `delete-root-key`), which call the same operations.

use clap::Subcommand;
use keyward_types::Nullable;

use super::keys::nullable_count;

#[derive(Debug, Subcommand)]
pub enum RootKeysCommand {
    /// Create a root key holding some permissions (at most those of the key you call with),
    /// optionally expiring. The key is shown only in this response. Needs
    /// `unkey:v1:<workspaceId>:rootKeys/*#write` or `rootkey.*.create_root_key`.
    #[command(after_help = "Examples:
  keyward api root-keys create-key --name=verifier --permissions=api.*.verify_key
  keyward api root-keys create-key --name=ci --permissions='unkey:v1:ws_123:keyspaces/api_1234abcd/keys/*#verify_key' --expires=1767225600000
  keyward api root-keys create-key --name=ops --permissions=api.*.read_key,api.*.delete_key,api.*.read_api")]
    CreateKey(CreateRootKeyArgs),

    /// List the root keys you may read (never the keys themselves): name, start, state, expiry,
    /// last use, permissions. Keys you may not read are left out. Needs
    /// `rootKeys/<keyId>#read` per key, `rootKeys/*#read` or `rootkey.*.read_root_key` for all.
    #[command(after_help = "Examples:
  keyward api root-keys list-keys --output=table
  keyward api root-keys list-keys --limit=10 --cursor=key_01J…")]
    ListKeys(ListRootKeysArgs),

    /// Rename, disable, enable a root key or replace its permissions; it takes effect on the
    /// key's next request. You must hold every permission of the key, and those you grant.
    /// Needs `rootKeys/<keyId>#write` or `rootkey.*.update_root_key`.
    #[command(after_help = "Examples:
  keyward api root-keys update-key --key-id=key_1234abcd --enabled=false     # refuse it (403) from now on
  keyward api root-keys update-key --key-id=key_1234abcd --enabled
  keyward api root-keys update-key --key-id=key_1234abcd --name=verifier --permissions=api.*.verify_key
  keyward api root-keys update-key --key-id=key_1234abcd --clear-name")]
    UpdateKey(UpdateRootKeyArgs),

    /// Issue a new root key with an existing one's name, state, expiry and permissions; the old
    /// one keeps working for --expiration milliseconds (`null`: as before). The new key is shown
    /// only now. Needs `rootKeys/<keyId>#write` and, unless --expiration=null,
    /// `rootKeys/<keyId>#delete` (or `rootkey.*.update_root_key`, `rootkey.*.delete_root_key`).
    #[command(after_help = "Examples:
  keyward api root-keys reroll-key --key-id=key_1234abcd --expiration=0          # old key stops now
  keyward api root-keys reroll-key --key-id=key_1234abcd --expiration=3600000    # old key works one more hour
  keyward api root-keys reroll-key --key-id=key_1234abcd --expiration=null       # old key unchanged")]
    RerollKey(RerollRootKeyArgs),

    /// Delete a root key: calls made with it fail with 401 from now on. You must hold every
    /// permission of the key. Needs `rootKeys/<keyId>#delete` or `rootkey.*.delete_root_key`.
    #[command(after_help = "Examples:
  keyward api root-keys delete-key --key-id=key_1234abcd")]
    DeleteKey(DeleteRootKeyArgs),

    /// keyward's earlier name of `create-key` (the same operation, rootKeys.createRootKey).
    #[command(after_help = "Examples:
  keyward api root-keys create-root-key --name=verifier --permissions=api.*.verify_key
  keyward api root-keys create-root-key --name=ops --permissions=api.*.read_key,api.*.delete_key,api.*.read_api")]
    CreateRootKey(CreateRootKeyArgs),

    /// keyward's earlier name of `list-keys` (rootKeys.listRootKeys): lists every root key, and
    /// answers 403 unless you may read them all (`rootkey.*.read_root_key`).
    #[command(after_help = "Examples:
  keyward api root-keys list-root-keys --output=table
  keyward api root-keys list-root-keys --limit=10 --cursor=key_01J…")]
    ListRootKeys(ListRootKeysArgs),

    /// keyward's earlier name of `delete-key` (the same operation, rootKeys.deleteRootKey).
    #[command(after_help = "Examples:
  keyward api root-keys delete-root-key --key-id=key_1234abcd")]
    DeleteRootKey(DeleteRootKeyArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateRootKeyArgs {
    /// A name for people, 1 to 255 characters. Example: --name=verifier
    #[arg(long)]
    pub name: Option<String>,
    /// Permissions to grant, tuples (`<resource>.<id or *>.<action>`) or URNs
    /// (`unkey:v1:<workspaceId>:<path>#<action>`), comma-separated or repeated.
    /// Example: --permissions=api.*.verify_key,api.*.read_key
    #[arg(
        long,
        required = true,
        value_delimiter = ',',
        value_name = "PERMISSION,…"
    )]
    pub permissions: Vec<String>,
    /// When the key stops working, unix milliseconds (a caller that expires must give a time no
    /// later than its own). Example: --expires=1767225600000
    #[arg(long, value_name = "UNIX_MS")]
    pub expires: Option<i64>,
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
pub struct UpdateRootKeyArgs {
    /// The root key's id (`key_…`), as list-keys shows it. Example: --key-id=key_1234abcd
    #[arg(long)]
    pub key_id: String,
    /// A new name. Example: --name=verifier
    #[arg(long, conflicts_with = "clear_name")]
    pub name: Option<String>,
    /// Remove the name. Example: --clear-name
    #[arg(long)]
    pub clear_name: bool,
    /// `false` refuses every request made with the key (403), `true` (or the bare flag)
    /// accepts them again. Example: --enabled=false
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub enabled: Option<bool>,
    /// Replace every permission of the key, comma-separated or repeated.
    /// Example: --permissions=api.*.verify_key
    #[arg(long, value_delimiter = ',', value_name = "PERMISSION,…")]
    pub permissions: Option<Vec<String>>,
}

#[derive(Debug, clap::Args)]
pub struct RerollRootKeyArgs {
    /// The root key to replace. Example: --key-id=key_1234abcd
    #[arg(long)]
    pub key_id: String,
    /// Milliseconds the old key keeps working (0 revokes it at once); `null` leaves it as it
    /// is. Example: --expiration=3600000
    #[arg(long, value_name = "MS|null", value_parser = nullable_count)]
    pub expiration: Nullable<i64>,
}

#[derive(Debug, clap::Args)]
pub struct DeleteRootKeyArgs {
    /// The root key's id (`key_…`), as list-keys shows it. Example: --key-id=key_1234abcd
    #[arg(long)]
    pub key_id: String,
}
