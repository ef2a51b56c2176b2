//! `keyward auth login|logout`: the root key saved in the config file.

use keyward_types::operations as op;
use std::io::{IsTerminal, Read};

use keyward_types::apis::GetApiRequest;

use crate::args::{AuthArgs, AuthCommand, OutputFormat};
use crate::client::Client;
use crate::commands::api::finish;
use crate::config::{self, ConfigFile, Flags, ROOT_KEY_ENV, Settings, Source};
use crate::error::{CliError, CliResult, ExitStatus};
use crate::output;

/// An API id that cannot exist: looking it up tells a valid root key (404, or 403 without
/// `read_api`) from an unknown one (401) without changing anything.
const PROBE_API_ID: &str = "api_keyward_login_probe";

pub async fn run(args: AuthArgs) -> ExitStatus {
    let result = async {
        let flags = Flags {
            root_key: None,
            api_url: args.connection.api_url,
            config: args.connection.config,
        };
        let settings = Settings::resolve(&flags, &|name| std::env::var(name).ok())?;
        let Some(file) = settings.config.clone() else {
            return Err(CliError::usage(
                "no config file: $HOME is not set; pass --config=<path>",
            ));
        };
        match args.command {
            AuthCommand::Login => login(&settings, file).await,
            AuthCommand::Logout => logout(file),
        }
    }
    .await;
    finish(OutputFormat::Default, result)
}

async fn login(settings: &Settings, mut file: ConfigFile) -> CliResult {
    let key = read_root_key()?;
    let url = &settings.api_url.value;
    let client = Client::new(url, Some(&key))?;
    match client
        .call::<op::GetApi>(&GetApiRequest {
            api_id: PROBE_API_ID.to_owned(),
        })
        .await
    {
        Ok(_) => {}
        Err(CliError::Api(failure)) if matches!(failure.status, 403 | 404) => {}
        Err(CliError::Api(failure)) if failure.status == 401 => {
            return Err(CliError::failed(format!(
                "the server at {url} rejected this root key: {} Nothing was saved.",
                failure.detail()
            )));
        }
        Err(err) => return Err(err),
    }

    file.table
        .insert(config::ROOT_KEY_FIELD.to_owned(), key.clone().into());
    // Remember a server given on the command line or in the environment, so later commands
    // talk to the server the key belongs to.
    if matches!(settings.api_url.source, Source::Flag(_) | Source::Env(_)) {
        file.table
            .insert(config::API_URL_FIELD.to_owned(), url.clone().into());
    }
    config::write_config(&file.path.value, &file.table)?;
    output::stdout(&format!(
        "Logged in to {url}: root key {} verified and saved to {} (mode 0600).\n",
        config::mask(&key),
        file.path.value.display()
    ));
    note_environment_overrides();
    Ok(())
}

/// The root key, read without echo on a terminal, or from stdin.
fn read_root_key() -> CliResult<String> {
    let stdin = std::io::stdin();
    let key = if stdin.is_terminal() {
        rpassword::prompt_password("Root key (input is hidden): ").map_err(|err| {
            CliError::failed(format!("cannot read the root key from the terminal: {err}"))
        })?
    } else {
        let mut text = String::new();
        stdin.lock().read_to_string(&mut text).map_err(|err| {
            CliError::usage(format!("cannot read the root key from stdin: {err}"))
        })?;
        text
    };
    let key = key.trim().to_owned();
    if key.is_empty() {
        return Err(CliError::usage(
            "no root key given: type it at the prompt, or pipe it to stdin",
        ));
    }
    if key.chars().any(char::is_whitespace) {
        return Err(CliError::usage(
            "a root key has no whitespace inside; check what you pasted",
        ));
    }
    Ok(key)
}

fn logout(mut file: ConfigFile) -> CliResult {
    let path = file.path.value.clone();
    if file.table.remove(config::ROOT_KEY_FIELD).is_none() {
        output::stdout(&format!(
            "Not logged in: {} holds no root key.\n",
            path.display()
        ));
    } else if file.table.is_empty() {
        std::fs::remove_file(&path)
            .map_err(|err| CliError::failed(format!("cannot remove {}: {err}", path.display())))?;
        output::stdout(&format!("Logged out: removed {}.\n", path.display()));
    } else {
        config::write_config(&path, &file.table)?;
        output::stdout(&format!(
            "Logged out: removed the root key from {}.\n",
            path.display()
        ));
    }
    note_environment_overrides();
    Ok(())
}

fn note_environment_overrides() {
    for var in ROOT_KEY_ENV {
        if std::env::var(var).is_ok_and(|v| !v.is_empty()) {
            eprintln!(
                "note: {var} is set in your environment and takes precedence over the config file"
            );
        }
    }
}
