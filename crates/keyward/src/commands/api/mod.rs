//! `keyward api <group> <command>`: one module per group.
//!
//! A command turns its flags into the request type of `keyward-types`, calls the operation with
//! [`Ctx::call`], and lets [`crate::output`] print the answer in the chosen format.

mod apis;
mod audit_logs;
mod identities;
mod keys;
mod permissions;
mod ratelimit;
mod root_keys;
mod workspaces;

use std::io::{IsTerminal, Read};

use keyward_types::operations::Endpoint;

use crate::args::api::{ApiArgs, ApiGroup};
use crate::args::{GlobalArgs, OutputFormat};
use crate::client::Client;
use crate::config::{Flags, Settings};
use crate::error::{CliError, CliResult, ExitStatus};
use crate::output::{self, Column};

/// What every API command needs: the resolved settings and the output format.
pub struct Ctx {
    pub settings: Settings,
    pub output: OutputFormat,
}

impl Ctx {
    pub fn new(global: &GlobalArgs) -> CliResult<Ctx> {
        let flags = Flags {
            root_key: global.root_key.clone(),
            api_url: global.connection.api_url.clone(),
            config: global.connection.config.clone(),
        };
        let settings = Settings::resolve(&flags, &|name| std::env::var(name).ok())?;
        Ok(Ctx {
            settings,
            output: global.output,
        })
    }

    /// A client authenticated with the resolved root key.
    pub fn client(&self) -> CliResult<Client> {
        Client::new(
            &self.settings.api_url.value,
            Some(self.settings.require_root_key()?),
        )
    }

    /// Calls operation `E` with `body` and prints the answer; `columns` are the table columns of
    /// a list answer.
    pub async fn call<E: Endpoint>(&self, body: &E::Request, columns: &[Column]) -> CliResult {
        let success = self.client()?.call::<E>(body).await?;
        output::print_success(self.output, &success, columns);
        Ok(())
    }
}

pub async fn run(args: ApiArgs) -> ExitStatus {
    let format = args.global.output;
    let result = async {
        let ctx = Ctx::new(&args.global)?;
        match args.group {
            ApiGroup::Apis(command) => apis::run(&ctx, command).await,
            ApiGroup::Keys(command) => keys::run(&ctx, *command).await,
            ApiGroup::RootKeys(command) => root_keys::run(&ctx, command).await,
            ApiGroup::Workspaces(command) => workspaces::run(&ctx, command).await,
            ApiGroup::AuditLogs(command) => audit_logs::run(&ctx, command).await,
            ApiGroup::Permissions(command) => permissions::run(&ctx, command).await,
            ApiGroup::Identities(command) => identities::run(&ctx, command).await,
            ApiGroup::Ratelimit(command) => ratelimit::run(&ctx, command).await,
            ApiGroup::Liveness => {
                let success = Client::new(&ctx.settings.api_url.value, None)?
                    .liveness()
                    .await?;
                output::print_success(ctx.output, &success, &[]);
                Ok(())
            }
        }
    }
    .await;
    finish(format, result)
}

/// Reports an error, if any, and gives the exit status.
pub fn finish(format: OutputFormat, result: CliResult) -> ExitStatus {
    match result {
        Ok(()) => ExitStatus::Success,
        Err(err) => {
            output::report_error(format, &err);
            err.status()
        }
    }
}

/// A secret flag value: `-` reads it from stdin (keeping it out of `ps` and shell history).
pub fn secret_arg(value: String, flag: &str) -> CliResult<String> {
    if value != "-" {
        return Ok(value);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return rpassword::prompt_password(format!("{flag}: ")).map_err(|err| {
            CliError::failed(format!("cannot read {flag} from the terminal: {err}"))
        });
    }
    let mut text = String::new();
    stdin
        .lock()
        .read_to_string(&mut text)
        .map_err(|err| CliError::usage(format!("cannot read {flag} from stdin: {err}")))?;
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Err(CliError::usage(format!("{flag}=- read nothing from stdin")));
    }
    Ok(text)
}

/// A list flag without empty items: `--roles=a,,b` is `[a, b]` and `--roles=` is `[]`.
pub fn list(values: Option<Vec<String>>) -> Option<Vec<String>> {
    values.map(|v| {
        v.into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

/// `Some(true)` for a set boolean flag, `None` (field omitted) otherwise.
pub fn flag(set: bool) -> Option<bool> {
    set.then_some(true)
}
