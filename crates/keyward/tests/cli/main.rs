//! The `keyward` CLI end to end: the real binary against a real server on loopback.
//!
//! Every test starts its own server (`support::TestServer`) and runs the binary with a cleared
//! environment. Tests never assert timings.

mod apis;
mod auth;
mod bulk;
mod config;
mod db;
mod errors;
mod keys;
mod misc;
mod ratelimit;
mod rbac;
mod support;
mod tty;
