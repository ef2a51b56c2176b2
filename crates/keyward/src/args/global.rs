//! The global flags of the client commands (`api`, `config`; `auth` takes all but `--root-key`).
//!
//! The environment and the config file are read in `config.rs`, not through clap's `env`, because
//! each setting has two variables (keyward's and Unkey's) and `keyward config show` reports where
//! every value came from.

use std::path::PathBuf;

use clap::ValueEnum;

const HEADING: &str = "Global Flags";

#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Root key to authenticate with [env: KEYWARD_ROOT_KEY, then UNKEY_ROOT_KEY; then root_key in
    /// the config file]. Prefer the environment or `keyward auth login`: a flag shows in `ps` and
    /// in your shell history. Example: --root-key="$ROOT_KEY"
    #[arg(long, global = true, value_name = "KEY", help_heading = HEADING)]
    pub root_key: Option<String>,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Output format. `default`: `<requestId> (took <N>ms)`, a blank line, then `data` as
    /// indented JSON. `json`: the whole response envelope and nothing else (errors too, for
    /// scripts). `table`: `data` as a table, for people. Example: --output=json
    #[arg(long, global = true, value_enum, default_value_t, value_name = "FORMAT", help_heading = HEADING)]
    pub output: OutputFormat,
}

/// Where the server is and where the config file is: the flags `auth` shares with `api`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// Base URL of the keyward server [env: KEYWARD_API_URL, then UNKEY_API_BASE_URL; then api_url
    /// in the config file; default: http://127.0.0.1:7070]. Example: --api-url=https://keys.example.com
    #[arg(long, global = true, value_name = "URL", help_heading = HEADING)]
    pub api_url: Option<String>,

    /// Path of the config file, a TOML file with the keys `root_key` and `api_url`
    /// [env: KEYWARD_CONFIG; default: ~/.keyward/config.toml]. Example: --config=./staging.toml
    #[arg(long, global = true, value_name = "PATH", value_parser = super::non_empty_path, help_heading = HEADING)]
    pub config: Option<PathBuf>,
}

/// `--output`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    // Explained in the help of `--output` itself.
    #[default]
    Default,
    Json,
    Table,
}
