//! `delete-keys`, `disable-keys`, `enable-keys`: one customer's keys in one command.
//!
//! This replaces the loop of the revocation guide (list a user's keys, delete each):
//! 1. list every key of the external id, following `apis.listKeys` cursors across all pages;
//! 2. confirm on a terminal unless `--yes` (refuse, exit 2, when stdin is not a terminal);
//! 3. change the keys one by one, with a progress bar on stderr (hidden off a terminal);
//! 4. print a summary: done / already done / already gone / failed with reasons.
//!
//! Re-running is safe: deleted keys no longer appear in the listing, keys already in the wanted
//! state are skipped, and a key that disappears between listing and change (404) counts as
//! "already gone", not as a failure. Ctrl-C stops after the request in flight and prints the
//! summary (exit 130); a second Ctrl-C quits at once. Exit 0 only if nothing failed.

use keyward_types::operations as op;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use keyward_types::apis::ListKeysRequest;
use keyward_types::keys::{DeleteKeyRequest, KeyResponseData, UpdateKeyRequest};
use serde_json::{Value, json};

use crate::args::OutputFormat;
use crate::args::api::keys::BulkArgs;
use crate::client::Client;
use crate::commands::api::Ctx;
use crate::error::{CliError, CliResult, ExitStatus};
use crate::output;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Delete { permanent: bool },
    Disable,
    Enable,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Delete { .. } => "delete",
            Action::Disable => "disable",
            Action::Enable => "enable",
        }
    }

    fn past(self) -> &'static str {
        match self {
            Action::Delete { .. } => "deleted",
            Action::Disable => "disabled",
            Action::Enable => "enabled",
        }
    }

    /// Whether `key` already is as this action would leave it.
    fn already_done(self, key: &KeyResponseData) -> bool {
        match self {
            Action::Delete { .. } => false,
            Action::Disable => !key.enabled,
            Action::Enable => key.enabled,
        }
    }
}

/// Why one key could not be changed.
#[derive(Debug)]
struct Failure {
    key_id: String,
    status: Option<u16>,
    message: String,
    request_id: Option<String>,
}

/// What a run did, key by key.
#[derive(Debug)]
struct Report<'a> {
    action: Action,
    args: &'a BulkArgs,
    matched: usize,
    done: Vec<String>,
    already_done: Vec<String>,
    already_gone: Vec<String>,
    failed: Vec<Failure>,
    not_attempted: Vec<String>,
    interrupted: bool,
    /// Set when the run stopped early because no further request could succeed.
    stopped: Option<String>,
}

pub async fn run(ctx: &Ctx, args: &BulkArgs, action: Action) -> CliResult {
    if !(1..=100).contains(&args.page_size) {
        return Err(CliError::usage("--page-size must be between 1 and 100"));
    }
    let client = ctx.client()?;
    let keys = list_all(&client, args).await?;
    let (already, todo): (Vec<_>, Vec<_>) = keys.iter().partition(|k| action.already_done(k));
    let mut report = Report {
        action,
        args,
        matched: keys.len(),
        done: Vec::new(),
        already_done: already.iter().map(|k| k.key_id.clone()).collect(),
        already_gone: Vec::new(),
        failed: Vec::new(),
        not_attempted: Vec::new(),
        interrupted: false,
        stopped: None,
    };
    if !todo.is_empty() {
        confirm(action, args, todo.len())?;
        apply(&client, args, action, &todo, &mut report).await;
    }
    print_report(ctx.output, &report);

    if report.interrupted {
        Err(CliError::Exit(ExitStatus::Interrupted))
    } else if !report.failed.is_empty() || report.stopped.is_some() {
        Err(CliError::Exit(ExitStatus::Failure))
    } else {
        Ok(())
    }
}

fn stderr_target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// Every live key of the external id, across all pages.
async fn list_all(client: &Client, args: &BulkArgs) -> CliResult<Vec<KeyResponseData>> {
    let spinner = ProgressBar::with_draw_target(None, stderr_target());
    spinner.set_style(
        ProgressStyle::with_template("{spinner} listing keys of {msg}").expect("valid template"),
    );
    spinner.set_message(format!("'{}'… 0 found", args.external_id));
    spinner.enable_steady_tick(Duration::from_millis(100));

    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let request = ListKeysRequest {
            api_id: args.api_id.clone(),
            limit: Some(args.page_size),
            cursor: cursor.take(),
            external_id: Some(args.external_id.clone()),
            decrypt: None,
            revalidate_keys_cache: None,
        };
        let page = client.call::<op::ListKeys>(&request).await;
        let page = match page {
            Ok(page) => page,
            Err(err) => {
                spinner.finish_and_clear();
                return Err(err);
            }
        };
        let items: Vec<KeyResponseData> = page.data_as()?;
        // A safety belt for a destructive command: never act on a key of someone else, even if
        // a server ignored the filter.
        if let Some(stray) = items.iter().find(|k| {
            k.identity.as_ref().map(|i| i.external_id.as_str()) != Some(args.external_id.as_str())
        }) {
            spinner.finish_and_clear();
            return Err(CliError::failed(format!(
                "the server listed key {} which does not belong to external id '{}'; refusing to change anything",
                stray.key_id, args.external_id
            )));
        }
        keys.extend(items);
        spinner.set_message(format!("'{}'… {} found", args.external_id, keys.len()));
        match page.pagination() {
            Some(p) if p.has_more && p.cursor.is_some() => cursor = p.cursor,
            _ => break,
        }
    }
    spinner.finish_and_clear();
    Ok(keys)
}

fn describe(action: Action, args: &BulkArgs, count: usize) -> String {
    let how = match action {
        Action::Delete { permanent: true } => " permanently (records and hashes erased, no undo)",
        Action::Delete { permanent: false } => {
            " (soft delete: they stop verifying at once; records stay for the audit trail)"
        }
        Action::Disable => " (they answer DISABLED until enable-keys)",
        Action::Enable => "",
    };
    format!(
        "{} {count} key{} of external id '{}' in API {}{how}",
        action.verb(),
        if count == 1 { "" } else { "s" },
        args.external_id,
        args.api_id
    )
}

/// Asks on a terminal; refuses off one unless `--yes`.
fn confirm(action: Action, args: &BulkArgs, count: usize) -> CliResult {
    if args.yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() || !std::io::stderr().is_terminal() {
        return Err(CliError::usage(format!(
            "refusing to {} without confirmation: stdin is not a terminal. Re-run with --yes to confirm.",
            describe(action, args, count)
        )));
    }
    let mut stderr = std::io::stderr().lock();
    let _ = write!(
        stderr,
        "About to {}.\nContinue? [y/N] ",
        describe(action, args, count)
    );
    let _ = stderr.flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|err| CliError::failed(format!("cannot read the answer: {err}")))?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        eprintln!("Aborted: nothing was changed.");
        Err(CliError::Exit(ExitStatus::Failure))
    }
}

/// Stops the loop on the first Ctrl-C; quits on the second. The handler is registered before
/// this returns, so no SIGINT after it can kill the run between two requests.
fn interrupt_flag() -> Arc<AtomicBool> {
    use tokio::signal::unix::{SignalKind, signal};
    let flag = Arc::new(AtomicBool::new(false));
    let Ok(mut sigint) = signal(SignalKind::interrupt()) else {
        return flag; // Without a handler, Ctrl-C simply ends the process: still safe to re-run.
    };
    let set = flag.clone();
    tokio::spawn(async move {
        if sigint.recv().await.is_some() {
            set.store(true, Ordering::SeqCst);
            eprintln!(
                "\nInterrupted: stopping after the request in flight (Ctrl-C again to quit at once)."
            );
            if sigint.recv().await.is_some() {
                std::process::exit(i32::from(ExitStatus::Interrupted.code()));
            }
        }
    });
    flag
}

async fn apply(
    client: &Client,
    args: &BulkArgs,
    action: Action,
    keys: &[&KeyResponseData],
    report: &mut Report<'_>,
) {
    let interrupted = interrupt_flag();
    let bar = ProgressBar::with_draw_target(Some(keys.len() as u64), stderr_target());
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({eta} left)")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{}ing", action.verb().trim_end_matches('e')));

    for (i, key) in keys.iter().enumerate() {
        if interrupted.load(Ordering::SeqCst) {
            report.interrupted = true;
        }
        if report.interrupted || report.stopped.is_some() {
            report
                .not_attempted
                .extend(keys[i..].iter().map(|k| k.key_id.clone()));
            break;
        }
        if i > 0 && args.pause_ms > 0 {
            tokio::time::sleep(Duration::from_millis(args.pause_ms)).await;
        }
        let result = match action {
            Action::Delete { permanent } => {
                let request = DeleteKeyRequest {
                    key_id: key.key_id.clone(),
                    permanent: permanent.then_some(true),
                };
                client.call::<op::DeleteKey>(&request).await
            }
            Action::Disable | Action::Enable => {
                let request = UpdateKeyRequest {
                    key_id: key.key_id.clone(),
                    enabled: Some(action == Action::Enable),
                    ..UpdateKeyRequest::default()
                };
                client.call::<op::UpdateKey>(&request).await
            }
        };
        match result {
            Ok(_) => report.done.push(key.key_id.clone()),
            Err(CliError::Api(failure)) if failure.status == 404 => {
                report.already_gone.push(key.key_id.clone())
            }
            Err(err) => {
                let (status, request_id) = match &err {
                    CliError::Api(f) => (
                        Some(f.status),
                        f.envelope.as_ref().map(|e| e.meta.request_id.clone()),
                    ),
                    _ => (None, None),
                };
                // Nothing further can succeed without a server or with a rejected root key.
                if matches!(err, CliError::Unreachable { .. }) || status == Some(401) {
                    bar.suspend(|| output::report_error(OutputFormat::Default, &err));
                    report.stopped = Some(
                        err.to_string()
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    );
                }
                let message = err
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                report.failed.push(Failure {
                    key_id: key.key_id.clone(),
                    status,
                    message,
                    request_id,
                });
            }
        }
        bar.inc(1);
        let mut notes = Vec::new();
        if !report.already_gone.is_empty() {
            notes.push(format!("{} already gone", report.already_gone.len()));
        }
        if !report.failed.is_empty() {
            notes.push(format!("{} failed", report.failed.len()));
        }
        bar.set_message(notes.join(", "));
    }
    bar.finish_and_clear();
}

fn print_report(format: OutputFormat, report: &Report<'_>) {
    if format == OutputFormat::Json {
        output::print_json(&report_json(report));
        return;
    }
    let action = report.action;
    let args = report.args;
    let mut text = String::new();
    if report.matched == 0 {
        text.push_str(&format!(
            "No live keys of external id '{}' in API {}: nothing to {}.\n",
            args.external_id,
            args.api_id,
            action.verb()
        ));
        output::stdout(&text);
        return;
    }
    let title = match action {
        Action::Delete { permanent: true } => "Permanently deleted",
        Action::Delete { permanent: false } => "Deleted",
        Action::Disable => "Disabled",
        Action::Enable => "Enabled",
    };
    text.push_str(&format!(
        "{title} the keys of external id '{}' in API {}:\n",
        args.external_id, args.api_id
    ));
    let mut rows = vec![
        ("matched", report.matched),
        (action.past(), report.done.len()),
    ];
    let already = format!("already {}", action.past());
    if !matches!(action, Action::Delete { .. }) {
        rows.push((&already, report.already_done.len()));
    }
    rows.push(("already gone", report.already_gone.len()));
    rows.push(("failed", report.failed.len()));
    if !report.not_attempted.is_empty() {
        rows.push(("not attempted", report.not_attempted.len()));
    }
    for (label, count) in rows {
        text.push_str(&format!("  {label:<17}{count:>6}\n"));
    }
    const SHOWN: usize = 50;
    for failure in report.failed.iter().take(SHOWN) {
        let request = failure
            .request_id
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        text.push_str(&format!(
            "    {}: {}{request}\n",
            failure.key_id, failure.message
        ));
    }
    if report.failed.len() > SHOWN {
        text.push_str(&format!(
            "    … and {} more (--output=json lists them all)\n",
            report.failed.len() - SHOWN
        ));
    }
    if report.interrupted {
        text.push_str(&format!(
            "Interrupted before {} key(s). Run the same command again to finish: keys already {} are skipped.\n",
            report.not_attempted.len(),
            action.past()
        ));
    } else if let Some(reason) = &report.stopped {
        text.push_str(&format!(
            "Stopped early: {reason}\nFix that and run the same command again to finish.\n"
        ));
    } else if !report.failed.is_empty() {
        text.push_str(
            "Some keys failed; fix the cause and run the same command again to retry them.\n",
        );
    }
    output::stdout(&text);
}

fn report_json(report: &Report<'_>) -> Value {
    let past = report.action.past();
    let mut object = serde_json::Map::new();
    object.insert("action".into(), json!(report.action.verb()));
    object.insert("apiId".into(), json!(report.args.api_id));
    object.insert("externalId".into(), json!(report.args.external_id));
    if let Action::Delete { permanent } = report.action {
        object.insert("permanent".into(), json!(permanent));
    }
    object.insert("matched".into(), json!(report.matched));
    object.insert(past.into(), json!(report.done));
    if !matches!(report.action, Action::Delete { .. }) {
        let name = format!("already{}{}", past[..1].to_uppercase(), &past[1..]);
        object.insert(name, json!(report.already_done));
    }
    object.insert("alreadyGone".into(), json!(report.already_gone));
    let failed: Vec<Value> = report
        .failed
        .iter()
        .map(|f| json!({"keyId": f.key_id, "status": f.status, "error": f.message, "requestId": f.request_id}))
        .collect();
    object.insert("failed".into(), Value::Array(failed));
    object.insert("notAttempted".into(), json!(report.not_attempted));
    object.insert("interrupted".into(), json!(report.interrupted));
    object.insert("stopped".into(), json!(report.stopped));
    Value::Object(object)
}
