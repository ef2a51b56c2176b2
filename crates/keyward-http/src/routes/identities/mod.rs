pub mod create_identity;
pub mod delete_identity;
pub mod get_identity;
pub mod list_identities;
pub mod update_identity;
