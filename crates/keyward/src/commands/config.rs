//! `keyward config show`: the settings the client resolves, and where each comes from.

use comfy_table::{Table, presets};
use serde_json::json;

use crate::args::{ConfigArgs, ConfigCommand, OutputFormat};
use crate::commands::api::{Ctx, finish};
use crate::config::mask;
use crate::error::ExitStatus;
use crate::output;

pub fn run(args: ConfigArgs) -> ExitStatus {
    let format = args.global.output;
    let result = Ctx::new(&args.global).map(|ctx| match args.command {
        ConfigCommand::Show => show(&ctx),
    });
    finish(format, result)
}

fn show(ctx: &Ctx) {
    let s = &ctx.settings;
    let (file_path, file_source, file_state) = match &s.config {
        Some(file) => (
            file.path.value.display().to_string(),
            file.path.source.to_string(),
            if file.exists { "found" } else { "not found" },
        ),
        None => ("-".to_owned(), "$HOME is not set".to_owned(), "none"),
    };
    let root_key = s
        .root_key
        .as_ref()
        .map(|k| (mask(&k.value), k.source.to_string()));

    match ctx.output {
        OutputFormat::Json => output::print_json(&json!({
            "configFile": {"path": s.config.as_ref().map(|_| &file_path), "source": file_source, "exists": s.config.as_ref().is_some_and(|f| f.exists)},
            "apiUrl": {"value": s.api_url.value, "source": s.api_url.source.to_string()},
            "rootKey": {
                "value": root_key.as_ref().map(|(masked, _)| masked),
                "source": root_key.as_ref().map(|(_, source)| source),
            },
        })),
        OutputFormat::Default => {
            let key = match &root_key {
                Some((masked, source)) => format!("{masked} ({source})"),
                None => {
                    "not set (--root-key, KEYWARD_ROOT_KEY, UNKEY_ROOT_KEY or `keyward auth login`)"
                        .to_owned()
                }
            };
            output::stdout(&format!(
                "config file  {file_path} ({file_source}, {file_state})\napi_url      {} ({})\nroot_key     {key}\n",
                s.api_url.value, s.api_url.source
            ));
        }
        OutputFormat::Table => {
            let mut table = Table::new();
            table.load_style(presets::UTF8_FULL_CONDENSED);
            table.set_header(["SETTING", "VALUE", "SOURCE"]);
            table.add_row([
                "config file".to_owned(),
                file_path,
                format!("{file_source}, {file_state}"),
            ]);
            table.add_row([
                "api_url".to_owned(),
                s.api_url.value.clone(),
                s.api_url.source.to_string(),
            ]);
            let (value, source) =
                root_key.unwrap_or_else(|| ("-".to_owned(), "not set".to_owned()));
            table.add_row(["root_key".to_owned(), value, source]);
            output::stdout(&format!("{table}\n"));
        }
    }
}
