//! `keyward`: one binary, two faces — `keyward serve` runs the server, `keyward api …` is its
//! client with the Unkey CLI's command tree.
//!
//! Layout: `args/` holds the clap types only; `commands/` one module per command (and one per
//! API group under `commands/api/`); `client` speaks HTTP; `config` resolves flag > environment >
//! config file > default; `output` prints the three output modes and errors; `error` maps every
//! failure to an exit code (0 success, 1 API or connection error, 2 usage, 130 interrupted).

mod args;
mod client;
mod commands;
mod config;
mod error;
mod output;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// mimalloc rather than glibc's malloc: a verification allocates and frees a couple of dozen small
/// blocks (request, headers, body, answer), and under callgrind mimalloc takes ~1,650 of the
/// ~26,300 instructions a verification costs without the hashes; an interleaved bench A/B gave
/// keyward/baseline CPU per request 1.17–1.31 (median 1.18) against 1.26–1.28. It costs ~15 MiB
/// of resident memory at start and ~4% more with a million keys cached (docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Parse errors exit 2 and `--help`/`--version` exit 0, both printed by clap.
    let cli = Cli::try_parse().unwrap_or_else(|err| err.exit());
    match cli.command {
        Command::Completions(args) => return commands::completions::run(args).into(),
        Command::Config(args) => return commands::config::run(args).into(),
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("keyward: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => commands::serve::run(args).await,
            Command::Api(args) => commands::api::run(*args).await.into(),
            Command::Auth(args) => commands::auth::run(args).await.into(),
            Command::Db(args) => commands::db::run(args).await.into(),
            Command::Completions(_) | Command::Config(_) => unreachable!("handled above"),
        }
    })
}
