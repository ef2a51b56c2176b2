pub mod create_api;
pub mod delete_api;
pub mod get_api;
pub mod list_keys;
pub mod update_api;
