//! keyward's server as a library: the binary (`keyward serve`), the tests and the benchmark all
//! start it through [`Server::start`].
//!
//! Layers, outside in (see `docs/ARCHITECTURE.md`):
//! - [`http`]: routing, middleware, extractors, one handler per endpoint;
//! - [`service`]: the logic of each endpoint, free of HTTP types; [`verify`] is the hot path;
//! - [`auth`], [`audit`], [`cache`], [`key_material`], [`last_used`], [`permission_query`],
//!   [`private_files`], [`striped`]: shared mechanisms;
//! - [`store`]: the only module that speaks SQL.

pub mod app;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod cache;
pub mod config;
pub mod error;
pub mod http;
pub mod key_material;
pub mod last_used;
pub mod metrics;
pub mod permission_query;
pub mod private_files;
pub mod server;
pub mod service;
pub mod store;
pub mod striped;
pub mod time;
pub mod verify;

pub use config::ServeConfig;
pub use server::Server;
