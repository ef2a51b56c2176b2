//! How a client command fails, and the exit code each failure maps to.
//!
//! | exit | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the API answered with an error, the server could not be reached, or a bulk run had failures |
//! | 2 | usage: bad flags or flag values, no root key, a broken config file, a bulk run without `--yes` off a terminal |
//! | 130 | a bulk run interrupted with Ctrl-C (re-run it to finish) |
//!
//! Messages are printed by [`crate::output::report_error`]; commands only return the error.

use std::fmt;
use std::process::ExitCode;

use keyward_types::ErrorEnvelope;
use serde_json::Value;

/// The exit codes of the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success,
    /// An API error, an unreachable server, a failed bulk run.
    Failure,
    /// A usage error (clap uses 2 for its own parse errors too).
    Usage,
    /// Interrupted by SIGINT.
    Interrupted,
}

impl ExitStatus {
    pub const fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Interrupted => 130,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status.code())
    }
}

/// The server answered with a non-2xx status.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    /// The operation called, e.g. `keys.deleteKey`.
    pub operation: String,
    pub status: u16,
    /// The error envelope, when the body is one.
    pub envelope: Option<ErrorEnvelope>,
    /// The body as received: JSON, or a JSON string holding the start of a non-JSON body.
    pub body: Value,
}

impl ApiFailure {
    pub fn detail(&self) -> String {
        match &self.envelope {
            Some(env) => env.error.detail.clone(),
            None => format!(
                "HTTP {} from {} with a body that is not keyward's error format",
                self.status, self.operation
            ),
        }
    }

    /// One line: `Not found: The key 'key_1' was not found …`, as the Unkey CLI words it.
    pub fn headline(&self) -> String {
        let detail = self.detail();
        match self.status {
            400 => format!("Invalid request: {detail}"),
            401 => format!("Authentication failed: {detail}"),
            403 => format!("Permission denied: {detail}"),
            404 => format!("Not found: {detail}"),
            _ => match &self.envelope {
                Some(env) => format!("{} ({}): {detail}", env.error.title, self.status),
                None => detail,
            },
        }
    }
}

#[derive(Debug)]
pub enum CliError {
    /// Exit 2: the command line (or the config it reads) cannot work as given.
    Usage(String),
    /// Exit 1: the API answered with an error.
    Api(Box<ApiFailure>),
    /// Exit 1: no connection to the server.
    Unreachable { url: String, cause: String },
    /// Exit 1: anything else that went wrong, already worded for people.
    Failed(String),
    /// The command has printed everything itself; exit with this status.
    Exit(ExitStatus),
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }

    pub fn failed(message: impl Into<String>) -> Self {
        CliError::Failed(message.into())
    }

    pub fn status(&self) -> ExitStatus {
        match self {
            CliError::Usage(_) => ExitStatus::Usage,
            CliError::Api(_) | CliError::Unreachable { .. } | CliError::Failed(_) => {
                ExitStatus::Failure
            }
            CliError::Exit(status) => *status,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(message) | CliError::Failed(message) => f.write_str(message),
            CliError::Api(failure) => f.write_str(&failure.headline()),
            CliError::Unreachable { url, cause } => write!(
                f,
                "cannot reach a keyward server at {url}: {cause}\n\
                 Start one with `keyward serve` (it listens on http://127.0.0.1:7070), or point \
                 --api-url / KEYWARD_API_URL at a running server."
            ),
            CliError::Exit(status) => write!(f, "exit status {}", status.code()),
        }
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;
