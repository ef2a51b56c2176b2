//! `keyward serve`

use std::process::ExitCode;
use std::time::Duration;

use keyward_http::{ServeConfig, Server};
use tracing_subscriber::EnvFilter;

use crate::args::{LogFormat, ServeArgs};

pub async fn run(args: ServeArgs) -> ExitCode {
    init_logging(args.log_format);
    let config = ServeConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
        db_max_connections: args.db_max_connections,
        db_acquire_timeout: Duration::from_millis(args.db_acquire_timeout_ms),
        db_statement_timeout: Duration::from_millis(args.db_statement_timeout_ms),
        // Only from the environment: a flag would show the secret in `ps`.
        bootstrap_root_key: std::env::var("KEYWARD_BOOTSTRAP_ROOT_KEY")
            .ok()
            .filter(|k| !k.is_empty()),
        cache_capacity: args.cache_capacity,
        cache_ttl: Duration::from_secs(args.cache_ttl_secs),
        last_used_flush: Duration::from_secs(args.last_used_flush_secs),
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        body_timeout: Duration::from_secs(args.body_timeout_secs),
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        max_connections: args.max_connections as usize,
        // The refill job's and the limiter's periods, and the clock, are not settings: the
        // defaults are what every deployment needs.
        ..ServeConfig::default()
    };
    // One process per SQLite database (keyward_store::serve_lock says why); held until exit.
    let _serving =
        match keyward_store::serve_lock::lock(config.database_url.as_deref(), &config.data_dir) {
            Ok(lock) => lock,
            Err(err) => {
                eprintln!("keyward: cannot start: {err:#}");
                return ExitCode::FAILURE;
            }
        };
    let server = match Server::start(config).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("keyward: cannot start: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("keyward listening on {}", server.url());
    match server.run_until_signal().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keyward: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
