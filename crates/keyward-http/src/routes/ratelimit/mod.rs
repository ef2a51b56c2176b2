pub mod delete_override;
pub mod get_override;
pub mod limit;
pub mod list_overrides;
pub mod multi_limit;
pub mod set_override;
