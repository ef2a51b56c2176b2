//! The three output modes, and how errors are shown.
//!
//! - `default` (the Unkey CLI's): `<requestId> (took <N>ms)`, a blank line, `data` as indented
//!   JSON (`{}` when empty). When a list has more pages, the next cursor goes to stderr.
//! - `json`: the whole envelope as received, indented, and nothing else on stdout. On an API
//!   error the error envelope is printed to stdout too, so a script sees the same shape.
//! - `table`: the request line, a blank line, then `data` as a table: one row per item of a
//!   list (with columns chosen per list), or one row per field of an object.
//!
//! Messages for people (errors, hints, progress) always go to stderr.

use std::io::{self, IsTerminal, Write};

use comfy_table::{ContentArrangement, Table, presets};
use serde_json::Value;

use crate::args::OutputFormat;
use crate::client::Success;
use crate::error::CliError;

/// How a value of a table column is shown.
#[derive(Debug, Clone, Copy)]
pub enum Cell {
    /// As is; arrays of strings comma-joined, objects as compact JSON, missing as `-`.
    Text,
    /// Unix milliseconds as UTC date and time.
    Time,
}

/// One column of a list table: a header and the JSON pointer of the value in each item.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    pub pointer: &'static str,
    pub cell: Cell,
}

pub const fn col(header: &'static str, pointer: &'static str) -> Column {
    Column {
        header,
        pointer,
        cell: Cell::Text,
    }
}

pub const fn time_col(header: &'static str, pointer: &'static str) -> Column {
    Column {
        header,
        pointer,
        cell: Cell::Time,
    }
}

/// Prints a successful answer in `format`. `columns` picks the table columns of a list.
pub fn print_success(format: OutputFormat, success: &Success, columns: &[Column]) {
    let data = success.data();
    match format {
        OutputFormat::Json => print_json(&success.envelope),
        OutputFormat::Default => {
            stdout(&format!("{}\n\n{}\n", request_line(success), pretty(data)));
            more_pages_hint(success);
        }
        OutputFormat::Table => {
            stdout(&format!(
                "{}\n\n{}\n",
                request_line(success),
                render_table(data, columns)
            ));
            more_pages_hint(success);
        }
    }
}

/// `req_… (took 4ms)`
pub fn request_line(success: &Success) -> String {
    format!(
        "{} (took {}ms)",
        success.request_id,
        success.took.as_millis()
    )
}

fn more_pages_hint(success: &Success) {
    if let Some(page) = success.pagination()
        && page.has_more
        && let Some(cursor) = page.cursor
    {
        eprintln!("More results follow: repeat the command with --cursor={cursor}");
    }
}

/// Indented JSON, as `serde_json` writes it (`{}` for an empty object).
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

pub fn print_json(value: &Value) {
    stdout(&format!("{}\n", pretty(value)));
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
pub fn stdout(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Shows `err` on stderr (and, with `--output=json`, the error envelope on stdout).
pub fn report_error(format: OutputFormat, err: &CliError) {
    match err {
        CliError::Exit(_) => {}
        CliError::Api(failure) => {
            if format == OutputFormat::Json {
                print_json(&failure.body);
            }
            let mut message = failure.headline();
            if let Some(errors) = failure
                .envelope
                .as_ref()
                .and_then(|e| e.error.errors.as_ref())
            {
                for error in errors {
                    message.push_str(&format!("\n  {}: {}", error.location, error.message));
                    if let Some(fix) = &error.fix {
                        message.push_str(&format!(" (fix: {fix})"));
                    }
                }
            }
            match failure.status {
                401 => message.push_str(
                    "\nhint: run `keyward auth login` to save a valid root key, or pass --root-key / set KEYWARD_ROOT_KEY",
                ),
                403 => message.push_str("\nhint: use a root key that holds the permission, or grant it"),
                _ => {}
            }
            if let Some(envelope) = &failure.envelope {
                message.push_str(&format!("\nrequest id: {}", envelope.meta.request_id));
            }
            eprintln!("{message}");
        }
        other => eprintln!("error: {other}"),
    }
}

/// `data` as a table: a list gets one row per item, an object one row per field.
pub fn render_table(data: &Value, columns: &[Column]) -> String {
    let mut table = Table::new();
    table.load_style(presets::UTF8_FULL_CONDENSED);
    if io::stdout().is_terminal() {
        table.set_content_arrangement(ContentArrangement::Dynamic);
    }
    match data {
        Value::Array(items) => {
            let columns: Vec<(String, String, Cell)> = if columns.is_empty() {
                generic_columns(items)
            } else {
                columns
                    .iter()
                    .map(|c| (c.header.to_owned(), c.pointer.to_owned(), c.cell))
                    .collect()
            };
            table.set_header(columns.iter().map(|(header, _, _)| header));
            for item in items {
                table.add_row(
                    columns
                        .iter()
                        .map(|(_, pointer, kind)| cell(item.pointer(pointer), *kind)),
                );
            }
        }
        Value::Object(fields) => {
            table.set_header(["FIELD", "VALUE"]);
            for (name, value) in fields {
                let kind = if is_time_field(name) {
                    Cell::Time
                } else {
                    Cell::Text
                };
                table.add_row([name.clone(), cell(Some(value), kind)]);
            }
        }
        other => {
            table.set_header(["VALUE"]);
            table.add_row([cell(Some(other), Cell::Text)]);
        }
    }
    table.to_string()
}

/// Columns for a list nobody chose columns for: every top-level field, in order of appearance.
fn generic_columns(items: &[Value]) -> Vec<(String, String, Cell)> {
    let mut names: Vec<&String> = Vec::new();
    for item in items {
        let Value::Object(fields) = item else {
            continue;
        };
        for (name, _) in fields {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
        .into_iter()
        .map(|name| {
            let kind = if is_time_field(name) {
                Cell::Time
            } else {
                Cell::Text
            };
            (name.clone(), format!("/{name}"), kind)
        })
        .collect()
}

fn is_time_field(name: &str) -> bool {
    matches!(
        name,
        "createdAt" | "updatedAt" | "lastUsedAt" | "expires" | "time"
    )
}

fn as_str(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn cell(value: Option<&Value>, kind: Cell) -> String {
    match (value, kind) {
        (None | Some(Value::Null), _) => "-".to_owned(),
        (Some(Value::Number(n)), Cell::Time) => {
            n.as_i64().map(format_time).unwrap_or_else(|| n.to_string())
        }
        (Some(Value::String(s)), _) => s.clone(),
        (Some(Value::Array(items)), _) if items.iter().all(|i| as_str(i).is_some()) => items
            .iter()
            .filter_map(as_str)
            .collect::<Vec<_>>()
            .join(", "),
        (Some(other), _) => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Unix milliseconds as `2026-08-21 14:03:07Z`.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_are_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00Z");
        assert_eq!(format_time(1_767_225_600_000), "2026-01-01 00:00:00Z");
        assert_eq!(format_time(951_825_599_000), "2000-02-29 11:59:59Z");
    }

    /// Answers print in the server's field order: this needs serde_json's `preserve_order`.
    #[test]
    fn json_keeps_the_servers_field_order() {
        let text = r#"{"meta":{"requestId":"req_1"},"data":{"keyId":"key_1","start":"sk_ab","enabled":true,"n":-1.5,"e":{},"a":[]}}"#;
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&value).unwrap(), text);
        assert_eq!(pretty(&value["data"]["e"]), "{}");
        let fields: Vec<&str> = value["data"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields, ["keyId", "start", "enabled", "n", "e", "a"]);
    }

    #[test]
    fn tables_show_lists_and_objects() {
        let list = json!([{"keyId": "key_1", "enabled": true, "createdAt": 0, "roles": ["a", "b"]}, {"keyId": "key_2"}]);
        let text = render_table(
            &list,
            &[
                col("KEY ID", "/keyId"),
                col("ROLES", "/roles"),
                time_col("CREATED", "/createdAt"),
            ],
        );
        assert!(
            text.contains("KEY ID") && text.contains("key_2") && text.contains("a, b"),
            "{text}"
        );
        assert!(text.contains("1970-01-01 00:00:00Z"), "{text}");
        let generic = render_table(&list, &[]);
        assert!(
            generic.contains("enabled") && generic.contains("true"),
            "{generic}"
        );
        let object = render_table(&json!({"apiId": "api_1", "credits": {"remaining": 5}}), &[]);
        assert!(
            object.contains("FIELD") && object.contains(r#"{"remaining":5}"#),
            "{object}"
        );
    }
}
