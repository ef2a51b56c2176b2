//! Wire types of keyward's HTTP API.
//!
//! keyward speaks Unkey's v2 API: every operation is `POST /v2/<group>.<operation>` with a JSON
//! body, answered with `{ meta: { requestId }, data }` or `{ meta, error }`. These types are the
//! single definition of that contract, shared by the server (which validates and serves them and
//! derives the OpenAPI document from them) and the CLI (which builds requests and prints
//! responses). This crate knows nothing of HTTP frameworks or storage.
//!
//! Conventions (see `docs/API.md`):
//! - field names are camelCase on the wire; timestamps are unix milliseconds;
//! - requests reject unknown fields (`deny_unknown_fields`);
//! - optional response fields are omitted rather than sent as `null`, except where the reference
//!   makes `null` meaningful (`credits.remaining: null` = unlimited).

pub mod apis;
pub mod audit_logs;
pub mod envelope;
pub mod error;
pub mod identities;
pub mod json_body;
pub mod keys;
pub mod liveness;
pub mod nullable;
pub mod openapi;
pub mod operations;
pub mod permissions;
pub mod ratelimit;
pub mod rbac;
pub mod root_keys;
pub mod validate;
pub mod workspaces;

pub use envelope::{Empty, Envelope, ErrorEnvelope, Meta, Pagination};
pub use error::{ErrorCode, Problem, ValidationError};
pub use nullable::Nullable;
pub use validate::{Validate, Violations};
