pub mod create_root_key;
pub mod delete_root_key;
pub mod list_root_keys;
