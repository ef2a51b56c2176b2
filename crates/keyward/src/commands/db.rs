//! `keyward db copy`: moves keyward's data between databases (keyward-store's `copy`).

use std::io::Write;
use std::time::{Duration, Instant};

use keyward_store::copy::{self, Progress};
use keyward_store::{Db, PoolOptions};

use crate::args::{CopyArgs, DbArgs, DbCommand};
use crate::error::ExitStatus;

/// How often a table's progress is reported while it copies.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

pub async fn run(args: DbArgs) -> ExitStatus {
    match args.command {
        DbCommand::Copy(args) => match copy_database(&args).await {
            Ok(()) => ExitStatus::Success,
            Err(err) => {
                eprintln!("keyward: db copy failed: {err:#}");
                ExitStatus::Failure
            }
        },
    }
}

async fn copy_database(args: &CopyArgs) -> anyhow::Result<()> {
    let pool = PoolOptions {
        // One statement deletes a whole table with --force, or counts one: give it time.
        statement_timeout: Duration::from_secs(600),
        ..PoolOptions::default()
    };
    let from = Db::open_existing(&args.from, &pool)
        .await
        .map_err(|err| err.context("cannot open the source (--from)"))?;
    let to = Db::open(Some(&args.to), std::path::Path::new("."), &pool)
        .await
        .map_err(|err| err.context("cannot open the target (--to)"))?;

    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut stderr = std::io::stderr();
    let copied = copy::copy(&from, &to, args.force, |progress| match progress {
        Progress::Table { table, rows } => {
            let _ = writeln!(stderr, "copying {table}: {rows} rows");
            last_report = Instant::now();
        }
        Progress::Rows {
            table,
            copied,
            rows,
        } => {
            if copied < rows && last_report.elapsed() >= PROGRESS_EVERY {
                let _ = writeln!(stderr, "  {table}: {copied} of {rows}");
                last_report = Instant::now();
            }
        }
    })
    .await;
    from.close().await;
    to.close().await;
    let copied = copied?;

    let width = copied
        .tables
        .iter()
        .map(|(table, _)| table.len())
        .max()
        .unwrap_or(0);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{:width$}  rows", "table")?;
    for (table, rows) in &copied.tables {
        writeln!(stdout, "{table:width$}  {rows}")?;
    }
    writeln!(
        stdout,
        "copied in {:.1} s; every table's count in the target matches the source",
        started.elapsed().as_secs_f64()
    )?;
    Ok(())
}
