//! Command-line arguments (clap types only; the commands live in `commands/`).
//!
//! Conventions of the `api` tree (the Unkey CLI's): one subcommand per group, one leaf per
//! operation in kebab-case (`keys.deleteKey` → `keyward api keys delete-key`), one flag per request
//! field in kebab-case (`keyId` → `--key-id`). List fields take comma-separated or repeated values;
//! nested objects take JSON (`--meta-json`, `--credits-json`, `--ratelimits-json`), parsed here so
//! a malformed value is a usage error (exit 2) before anything is sent. Flags required by the
//! request are required flags. Every flag's help ends with an example.

pub mod api;
mod auth;
mod db;
mod global;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use serde::de::DeserializeOwned;

pub use auth::{AuthArgs, AuthCommand};
pub use db::{CopyArgs, DbArgs, DbCommand};
pub use global::{ConnectionArgs, GlobalArgs, OutputFormat};
pub use serve::{LogFormat, RatelimitEngine, RatelimitOnUnavailable, ServeArgs};

#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    about = "Self-hosted API key management, wire-compatible with Unkey's v2 API",
    after_help = "Start a server with `keyward serve`, save its root key with `keyward auth login`, \
then call it with `keyward api <group> <command>`."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the keyward server.
    Serve(ServeArgs),
    /// Call the API: `keyward api <group> <command> [--flags]`, as in the Unkey CLI.
    Api(Box<api::ApiArgs>),
    /// Save the root key the CLI uses (`auth login`), or remove it (`auth logout`).
    Auth(AuthArgs),
    /// Inspect the CLI's settings.
    Config(ConfigArgs),
    /// Print a shell completion script to stdout.
    #[command(after_help = "Examples:
  keyward completions bash > /etc/bash_completion.d/keyward
  keyward completions zsh > \"${fpath[1]}/_keyward\"
  keyward completions fish > ~/.config/fish/completions/keyward.fish")]
    Completions(CompletionsArgs),
    /// Move keyward's data between databases: `db copy --from <url> --to <url>`.
    Db(DbArgs),
}

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Show the API URL, root key (masked) and config file the CLI would use, and where each
    /// comes from (flag, environment, config file or default).
    #[command(after_help = "Examples:
  keyward config show
  KEYWARD_API_URL=http://10.0.0.5:7070 keyward config show --output=json")]
    Show,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to print completions for. Example: bash
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// A JSON flag value, parsed into the request type it fills (`--meta-json`, `--credits-json`, …).
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

/// clap value parser for [`Json`]: invalid JSON, or JSON of the wrong shape, is a usage error.
pub fn json<T: DeserializeOwned>(text: &str) -> Result<Json<T>, String> {
    serde_json::from_str(text)
        .map(Json)
        .map_err(|err| format!("not the expected JSON: {err}"))
}

/// Optional path flags share this parser so `--config=` (empty) is rejected rather than meaning `.`.
pub fn non_empty_path(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(PathBuf::from(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    /// Every leaf of `keyward api` explains each of its own flags with an example, and shows
    /// examples of the whole command, as the Unkey CLI's pages do.
    #[test]
    fn every_api_flag_has_an_example() {
        fn walk(cmd: &clap::Command, path: &str, leaves: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            if cmd.has_subcommands() {
                for sub in cmd.get_subcommands() {
                    walk(sub, &path, leaves);
                }
                return;
            }
            leaves.push(path.clone());
            let after = cmd
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(after.contains("Examples:"), "{path} has no examples");
            for arg in cmd.get_arguments() {
                if arg.is_global_set() || ["help", "version"].contains(&arg.get_id().as_str()) {
                    continue;
                }
                let help = arg
                    .get_long_help()
                    .or(arg.get_help())
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                assert!(
                    help.contains("Example: "),
                    "{path} --{} has no example: {help:?}",
                    arg.get_id()
                );
            }
        }
        let cli = Cli::command();
        let api = cli.find_subcommand("api").unwrap();
        let mut leaves = Vec::new();
        walk(api, "keyward", &mut leaves);
        assert!(leaves.len() >= 20, "{leaves:?}");
        // The global flags themselves are documented with examples too.
        for arg in api.get_arguments().filter(|a| a.is_global_set()) {
            let help = arg
                .get_long_help()
                .or(arg.get_help())
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                help.contains("Example: "),
                "--{} has no example",
                arg.get_id()
            );
        }
    }
}
