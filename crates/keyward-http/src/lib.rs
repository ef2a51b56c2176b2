//! keyward's HTTP face, and the only crate that speaks axum: the router (built from the operation
//! registry of `keyward-types`), the extractors, the rendering of errors, the per-request layer,
//! one handler file per operation, and the server's start and stop. The binary (`keyward
//! serve`), the tests and the benchmark all start keyward through [`Server::start`].
//!
//! Layers, outside in (see `docs/ARCHITECTURE.md`): this crate → `keyward-core` (logic) →
//! `keyward-store` (SQL). Handlers only extract, call a service function and wrap its answer.

pub mod app;
pub mod config;
pub mod connection;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod request_id;
pub mod respond;
pub mod router;
pub mod routes;
pub mod server;

pub use config::ServeConfig;
/// The rate-limit settings of [`ServeConfig`].
pub use keyward_core::ratelimit::{
    Engine as RatelimitEngine, OnUnavailable as RatelimitOnUnavailable,
};
pub use server::Server;
