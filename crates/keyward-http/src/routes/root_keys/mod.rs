pub mod create_key;
pub mod create_root_key;
pub mod delete_key;
pub mod delete_root_key;
pub mod list_keys;
pub mod list_root_keys;
pub mod reroll_key;
pub mod update_key;
