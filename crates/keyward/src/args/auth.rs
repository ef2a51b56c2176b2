//! `keyward auth login|logout`

use clap::Subcommand;

use super::ConnectionArgs;

#[derive(Debug, clap::Args)]
pub struct AuthArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(subcommand)]
    pub command: AuthCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Check a root key against the server and save it, with the API URL, in the config file
    /// (mode 0600). On a terminal the key is read without echo; otherwise from stdin.
    #[command(after_help = "Examples:
  keyward auth login
  keyward auth login --api-url=https://keys.example.com
  keyward auth login < keyward-data/bootstrap-root-key")]
    Login,
    /// Remove the saved root key from the config file (the file goes when nothing else is left).
    #[command(after_help = "Examples:
  keyward auth logout
  keyward auth logout --config=./staging.toml")]
    Logout,
}
