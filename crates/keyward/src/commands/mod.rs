//! One module per top-level command. Client commands return [`crate::error::ExitStatus`] after
//! printing their output or their error.

pub mod api;
pub mod auth;
pub mod completions;
pub mod config;
pub mod db;
pub mod serve;
