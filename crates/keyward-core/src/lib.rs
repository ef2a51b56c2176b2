//! keyward's logic, free of HTTP and SQL: authentication and authorization of root keys, the
//! verification hot path and its caches, the unit of work every mutation runs in, and one service
//! module per API group. The HTTP crate (`keyward-http`) calls into it; it calls the storage crate
//! (`keyward-store`).

pub mod app;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod cache;
pub mod error;
pub mod key_material;
pub mod last_used;
pub mod metrics;
pub mod permission_query;
pub mod service;
pub mod striped;
pub mod time;
pub mod verify;
