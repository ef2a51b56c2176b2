pub mod create_key;
pub mod delete_key;
pub mod get_key;
pub mod reroll_key;
pub mod update_credits;
pub mod update_key;
pub mod verify_key;
pub mod whoami;
