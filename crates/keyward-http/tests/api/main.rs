//! Black-box HTTP tests: a real keyward server on 127.0.0.1 over a real SQLite file, driven
//! with plain HTTP requests. One module per area of the API.

mod helpers;

mod apis;
mod audit_logs;
mod auth;
mod bodies;
mod concurrency;
mod connections;
mod erasure;
mod hangups;
mod identities;
mod indistinguishable;
mod key_grants;
mod key_limits;
mod keys_create;
mod keys_delete;
mod keys_read;
mod keys_reroll;
mod keys_update;
mod last_used;
mod matrix;
mod negative_cache;
mod ratelimit;
mod ratelimit_shared;
mod rbac;
mod refills;
mod revocation;
mod root_keys;
mod root_keys_unkey;
mod system;
mod unavailable;
mod upgrades;
mod validation;
mod verify;
mod workspaces;
