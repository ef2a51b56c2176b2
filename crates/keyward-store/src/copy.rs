//! `keyward db copy`: every row of every table from one database to another, on either backend.
//!
//! The copy is driven by [`TABLES`], one line per table. Columns are not listed: they are read
//! from the source's schema and checked against the target's, so a migration that adds a column
//! needs no change here, and one that adds a table fails the copy ("not known to db copy") and
//! the test that compares [`TABLES`] with the schema until its line is added.
//!
//! The source is read in one snapshot (a read transaction), so a copy taken while keyward runs is
//! still consistent; the target is written in one transaction, so a failed copy leaves it as it
//! was. Before committing, every table's row count in the target is checked against the source's.

use sqlx::{AssertSqlSafe, Row};

use crate::{AsConn, Db, StoreError, StoreResult, on_conn, rows_affected};

/// A table and the columns that order its rows (its primary key), parents before children: the
/// order rows can be inserted in with foreign keys checked.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub key: &'static [&'static str],
}

impl Table {
    pub const fn new(name: &'static str, key: &'static [&'static str]) -> Table {
        Table { name, key }
    }
}

/// Every table keyward keeps. A migration that adds a table adds its line here, after the
/// tables it references.
pub const TABLES: &[Table] = &[
    Table::new("workspaces", &["id"]),
    Table::new("root_keys", &["id"]),
    Table::new("apis", &["id"]),
    Table::new("identities", &["id"]),
    Table::new("credits", &["id"]),
    Table::new("keys", &["id"]),
    Table::new("audit_logs", &["id"]),
    Table::new("audit_log_targets", &["log_id", "target_id"]),
    Table::new("permissions", &["id"]),
    Table::new("roles", &["id"]),
    Table::new("roles_permissions", &["role_id", "permission_id"]),
    Table::new("keys_permissions", &["key_id", "permission_id"]),
    Table::new("keys_roles", &["key_id", "role_id"]),
    Table::new("ratelimit_namespaces", &["id"]),
    Table::new("ratelimit_overrides", &["id"]),
    Table::new("ratelimits", &["id"]),
    Table::new("ratelimit_counters", &["scope", "identifier", "duration"]),
];

/// Tables that are not data: each database keeps its own record of its migrations.
const NOT_COPIED: &[&str] = &["_sqlx_migrations"];

/// Rows read and written per statement: well under both backends' limits on bound parameters
/// (SQLite 32766, PostgreSQL 65535) for any table here.
const BATCH_PARAMETERS: usize = 16_000;

/// What a copy reports while it runs.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// About to copy `rows` rows of `table`.
    Table { table: &'a str, rows: u64 },
    /// `copied` of `rows` rows of `table` are written.
    Rows {
        table: &'a str,
        copied: u64,
        rows: u64,
    },
}

/// Rows per table, as copied and as counted in the target afterwards (they are equal: the copy
/// fails otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub tables: Vec<(&'static str, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "the target database is not empty ({0}); copy into an empty database, or pass --force to \
         delete what it holds first"
    )]
    TargetNotEmpty(String),
    #[error("{0}")]
    Schema(String),
    #[error("the target holds {in_target} rows of {table} after the copy, the source {in_source}")]
    CountMismatch {
        table: &'static str,
        in_source: u64,
        in_target: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A column's kind, as both backends store it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Bool,
    Bytes,
}

impl Kind {
    /// The kind of a declared type: SQLite's declared name or PostgreSQL's `data_type`.
    fn of(declared: &str) -> Option<Kind> {
        Some(match declared.to_ascii_lowercase().as_str() {
            "text" => Kind::Text,
            "integer" | "bigint" | "smallint" => Kind::Int,
            "boolean" => Kind::Bool,
            "blob" | "bytea" => Kind::Bytes,
            _ => return None,
        })
    }
}

/// One value, typed by its column's kind.
#[derive(Debug, Clone)]
enum Cell {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(Option<bool>),
    Bytes(Option<Vec<u8>>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    name: String,
    kind: Kind,
}

/// Copies every table of `from` into `to`. `force` deletes what `to` holds first; without it, a
/// target holding any row is refused. Both databases are already migrated to this version
/// (`Db::open` does it).
pub async fn copy(
    from: &Db,
    to: &Db,
    force: bool,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<Copied, CopyError> {
    let mut source = from.snapshot().await?;
    let mut target = to.begin().await?;

    let source_tables = table_names(&mut source).await?;
    let unknown: Vec<&String> = source_tables
        .iter()
        .filter(|t| !TABLES.iter().any(|known| known.name == t.as_str()))
        .filter(|t| !NOT_COPIED.contains(&t.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(CopyError::Schema(format!(
            "the source has tables db copy does not know: {unknown:?} (a migration added them \
             without a line in keyward-store's copy::TABLES)"
        )));
    }

    let mut not_empty = Vec::new();
    for table in TABLES {
        let rows = count(&mut target, table.name).await?;
        if rows > 0 {
            not_empty.push(format!("{}: {rows} rows", table.name));
        }
    }
    if !not_empty.is_empty() {
        if !force {
            return Err(CopyError::TargetNotEmpty(not_empty.join(", ")));
        }
        // Children first, so that no foreign key is left dangling at any point.
        for table in TABLES.iter().rev() {
            on_conn!(&mut target, |conn| {
                sqlx::query(AssertSqlSafe(format!("delete from {}", table.name)))
                    .execute(conn)
                    .await
                    .map(rows_affected)
            })?;
        }
    }

    let mut copied = Vec::new();
    for table in TABLES {
        let source_columns = columns(&mut source, table.name).await?;
        let mut sorted_source = source_columns.clone();
        let mut sorted_target = columns(&mut target, table.name).await?;
        sorted_source.sort_by(|a, b| a.name.cmp(&b.name));
        sorted_target.sort_by(|a, b| a.name.cmp(&b.name));
        if sorted_source != sorted_target {
            return Err(CopyError::Schema(format!(
                "the columns of {} differ between the databases: {sorted_source:?} and \
                 {sorted_target:?}",
                table.name
            )));
        }
        let rows = count(&mut source, table.name).await?;
        progress(Progress::Table {
            table: table.name,
            rows,
        });
        let columns = source_columns;
        let batch = (BATCH_PARAMETERS / columns.len()).max(1);
        let mut after: Option<Vec<String>> = None;
        let mut done = 0u64;
        loop {
            let page = read_page(&mut source, table, &columns, after.as_deref(), batch).await?;
            if page.is_empty() {
                break;
            }
            write_rows(&mut target, table.name, &columns, &page).await?;
            done += page.len() as u64;
            after = Some(key_of(table, &columns, page.last().expect("a row")));
            progress(Progress::Rows {
                table: table.name,
                copied: done,
                rows,
            });
        }
        let written = count(&mut target, table.name).await?;
        if written != rows || done != rows {
            return Err(CopyError::CountMismatch {
                table: table.name,
                in_source: rows,
                in_target: written,
            });
        }
        copied.push((table.name, written));
    }
    target.commit().await?;
    Ok(Copied { tables: copied })
}

/// The tables of the database `c` is connected to (in its current schema on PostgreSQL).
pub async fn table_names(c: &mut impl AsConn) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = on_conn!(
        c,
        sqlite
            | conn
            | sqlx::query_as(
                "select name from sqlite_schema where type = 'table' \
             and name not like 'sqlite\\_%' escape '\\' order by name"
            )
            .fetch_all(conn)
            .await,
        postgres
            | conn
            | sqlx::query_as(
                "select table_name::text from information_schema.tables \
             where table_schema = current_schema() and table_type = 'BASE TABLE' order by 1"
            )
            .fetch_all(conn)
            .await,
    )?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

/// The tables `table`'s foreign keys reference.
pub async fn referenced_tables(c: &mut impl AsConn, table: &str) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = on_conn!(
        c,
        sqlite
            | conn
            | sqlx::query_as("select distinct \"table\" from pragma_foreign_key_list($1)")
                .bind(table)
                .fetch_all(conn)
                .await,
        postgres
            | conn
            | sqlx::query_as(
                "select distinct confrelid::regclass::text from pg_constraint \
             where contype = 'f' and conrelid = to_regclass($1)"
            )
            .bind(table)
            .fetch_all(conn)
            .await,
    )?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

/// The columns of `table` in their declared order, with their kinds.
async fn columns(c: &mut impl AsConn, table: &str) -> Result<Vec<Column>, CopyError> {
    let declared: Vec<(String, String)> = on_conn!(
        c,
        sqlite
            | conn
            | sqlx::query_as("select name, type from pragma_table_info($1) order by cid")
                .bind(table)
                .fetch_all(conn)
                .await,
        postgres
            | conn
            | sqlx::query_as(
                "select column_name::text, data_type::text from information_schema.columns \
             where table_schema = current_schema() and table_name = $1 order by ordinal_position"
            )
            .bind(table)
            .fetch_all(conn)
            .await,
    )?;
    if declared.is_empty() {
        return Err(CopyError::Schema(format!(
            "the database has no table {table}"
        )));
    }
    declared
        .into_iter()
        .map(|(name, declared)| match Kind::of(&declared) {
            Some(kind) => Ok(Column { name, kind }),
            None => Err(CopyError::Schema(format!(
                "column {table}.{name} has the type {declared}, which db copy cannot carry \
                 (keyward-store's copy::Kind lists those it can)"
            ))),
        })
        .collect()
}

/// Rows in `table`.
pub async fn count(c: &mut impl AsConn, table: &str) -> StoreResult<u64> {
    let sql = format!("select count(*) from {table}");
    let (n,): (i64,) = on_conn!(c, |conn| {
        sqlx::query_as(AssertSqlSafe(sql)).fetch_one(conn).await
    })?;
    Ok(n as u64)
}

/// Up to `limit` rows of `table` in key order, after the row whose key is `after`.
async fn read_page(
    c: &mut impl AsConn,
    table: &Table,
    columns: &[Column],
    after: Option<&[String]>,
    limit: usize,
) -> StoreResult<Vec<Vec<Cell>>> {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let key = table.key.join(", ");
    let condition = match after {
        None => String::new(),
        Some(_) => {
            let placeholders: Vec<String> =
                (1..=table.key.len()).map(|i| format!("${i}")).collect();
            format!("where ({key}) > ({})", placeholders.join(", "))
        }
    };
    // Table and column names come from `TABLES` and the schema, never from input.
    let sql = format!(
        "select {} from {} {condition} order by {key} limit {limit}",
        names.join(", "),
        table.name
    );
    on_conn!(c, |conn| {
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for value in after.into_iter().flatten() {
            query = query.bind(value);
        }
        match query.fetch_all(conn).await {
            Ok(rows) => rows
                .iter()
                .map(|row| {
                    columns
                        .iter()
                        .enumerate()
                        .map(|(i, column)| {
                            Ok(match column.kind {
                                Kind::Text => Cell::Text(row.try_get(i)?),
                                Kind::Int => Cell::Int(row.try_get(i)?),
                                Kind::Bool => Cell::Bool(row.try_get(i)?),
                                Kind::Bytes => Cell::Bytes(row.try_get(i)?),
                            })
                        })
                        .collect::<Result<Vec<Cell>, sqlx::Error>>()
                })
                .collect::<Result<Vec<_>, sqlx::Error>>(),
            Err(err) => Err(err),
        }
    })
}

/// The key of `row` (text columns: every table's key is made of ids).
fn key_of(table: &Table, columns: &[Column], row: &[Cell]) -> Vec<String> {
    table
        .key
        .iter()
        .map(|key| {
            let i = columns
                .iter()
                .position(|c| c.name == *key)
                .expect("a table's key is among its columns");
            match &row[i] {
                Cell::Text(Some(text)) => text.clone(),
                other => panic!("key column {}.{key} is not text: {other:?}", table.name),
            }
        })
        .collect()
}

async fn write_rows(
    c: &mut impl AsConn,
    table: &str,
    columns: &[Column],
    rows: &[Vec<Cell>],
) -> StoreResult<()> {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let sql = format!(
        "insert into {table} ({}) values {}",
        names.join(", "),
        crate::placeholder_rows(crate::backend_of(c), rows.len(), columns.len())
    );
    on_conn!(c, |conn| {
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for cell in rows.iter().flatten() {
            query = match cell {
                Cell::Text(v) => query.bind(v.clone()),
                Cell::Int(v) => query.bind(*v),
                Cell::Bool(v) => query.bind(*v),
                Cell::Bytes(v) => query.bind(v.clone()),
            };
        }
        query.execute(conn).await.map(rows_affected)
    })?;
    Ok(())
}
