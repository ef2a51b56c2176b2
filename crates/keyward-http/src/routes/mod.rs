//! One file per operation, grouped as the API is (`/v2/<group>.<operation>`). Handlers only
//! extract, call a service function of `keyward_core::service` and wrap the result; their
//! request and response types are the registry's (`keyward_types::operations`).

pub mod apis;
pub mod audit_logs;
pub mod identities;
pub mod keys;
pub mod permissions;
pub mod ratelimit;
pub mod root_keys;
pub mod system;
pub mod workspaces;
