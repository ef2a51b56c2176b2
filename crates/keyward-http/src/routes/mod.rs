//! One file per endpoint, grouped as the API is (`/v2/<group>.<operation>`). Handlers only
//! extract, call a service function and wrap the result; see [`crate::service`].

pub mod apis;
pub mod audit_logs;
pub mod keys;
pub mod root_keys;
pub mod system;
pub mod workspaces;
