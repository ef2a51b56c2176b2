//! What keyward's test suites share: the database a test runs on.
//!
//! Every suite (HTTP, CLI, serve, SDK conformance, storage) runs on the backend that
//! `KEYWARD_TEST_DATABASE` names: `sqlite` (the default) or `postgres`. On PostgreSQL, on the
//! server `KEYWARD_TEST_POSTGRES_URL` names (default `postgres://postgres@127.0.0.1:5432/postgres`;
//! its user must be allowed to create databases), each test process creates a throwaway database
//! and each test a schema of its own in it (keyward's connections get it as their
//! `search_path`), dropped when the test's [`TestDatabase`] is dropped — also when the test
//! panics, since the drop runs while unwinding.
//!
//! The databases are created with an ICU collation (`en-US`) on purpose: it orders text
//! differently from SQLite (case and punctuation are compared last), so a listing whose order
//! depended on the server's default collation fails here rather than at a user's.
//!
//! [`PgCluster`] is a private PostgreSQL server in a temporary directory, for tests that stop and
//! restart the database without disturbing the other tests.

mod cluster;

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{AnyConnection, Connection, PgConnection};
use tempfile::TempDir;

pub use cluster::PgCluster;

/// The backend the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backend `KEYWARD_TEST_DATABASE` names (`sqlite` when unset).
pub fn backend() -> Backend {
    match std::env::var("KEYWARD_TEST_DATABASE").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => Backend::Sqlite,
        Ok("postgres") => Backend::Postgres,
        Ok(other) => panic!("KEYWARD_TEST_DATABASE={other:?}: expected sqlite or postgres"),
    }
}

/// The PostgreSQL server the tests create their databases on: a URL naming a database the
/// user may connect to (its maintenance database).
pub fn postgres_admin_url() -> String {
    std::env::var("KEYWARD_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with its database replaced by `database` (query parameters kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{database}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// The database one test runs on: nothing to create on SQLite (keyward makes its file in the
/// test's data directory); on PostgreSQL a schema of its own, dropped on drop.
#[derive(Debug)]
pub struct TestDatabase {
    postgres: Option<PostgresSchema>,
}

#[derive(Debug)]
struct PostgresSchema {
    /// The process's database, where the schema lives.
    database_url: String,
    /// `t<n>`.
    schema: String,
    /// Also the `application_name` of every connection made with [`Self::url`], so that the
    /// drop can end them.
    application: String,
    url: String,
}

impl TestDatabase {
    /// A database on the backend `KEYWARD_TEST_DATABASE` names. Blocks while it is created
    /// (callable from sync tests and from within a runtime alike).
    pub fn new() -> TestDatabase {
        match backend() {
            Backend::Sqlite => TestDatabase::sqlite(),
            Backend::Postgres => TestDatabase::postgres_on(&postgres_admin_url()),
        }
    }

    /// No database to create: keyward's embedded SQLite file, whatever the backend setting.
    pub fn sqlite() -> TestDatabase {
        TestDatabase { postgres: None }
    }

    /// A fresh database on the PostgreSQL server of `admin_url`, whatever the backend setting.
    pub fn postgres_on(admin_url: &str) -> TestDatabase {
        let database = process_database(admin_url);
        let schema = format!("t{}", NEXT_SCHEMA.fetch_add(1, Ordering::Relaxed));
        let application = format!("{database}_{schema}");
        let database_url = with_database(admin_url, &database);
        let (url, sql) = (database_url.clone(), format!("create schema \"{schema}\""));
        blocking(async move {
            let mut conn = connect(&url).await;
            execute(&mut conn, sql)
                .await
                .expect("create the test schema");
        });
        let separator = if database_url.contains('?') { '&' } else { '?' };
        TestDatabase {
            postgres: Some(PostgresSchema {
                url: format!(
                    "{database_url}{separator}options[search_path]={schema}&application_name={application}"
                ),
                database_url,
                schema,
                application,
            }),
        }
    }

    /// The URL to give keyward (`--database-url`), or `None` for its embedded SQLite file.
    pub fn url(&self) -> Option<&str> {
        self.postgres.as_ref().map(|pg| pg.url.as_str())
    }

    /// The URL keyward opens: [`Self::url`], or the SQLite file it keeps in `data_dir`.
    pub fn url_or_file(&self, data_dir: &Path) -> String {
        match self.url() {
            Some(url) => url.to_owned(),
            None => format!("sqlite://{}", data_dir.join("keyward.db").display()),
        }
    }

    pub fn backend(&self) -> Backend {
        if self.postgres.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

impl Default for TestDatabase {
    fn default() -> Self {
        TestDatabase::new()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(pg) = self.postgres.take() {
            // A server the test left running (or a test that panicked mid-transaction) may hold
            // locks the drop would wait for: end its connections first.
            blocking(async move {
                let mut conn = connect(&pg.database_url).await;
                let ended = sqlx::query(
                    "select pg_terminate_backend(pid) from pg_stat_activity \
                     where application_name = $1 and pid <> pg_backend_pid()",
                )
                .bind(&pg.application)
                .execute(&mut conn)
                .await;
                let sql = format!("drop schema if exists \"{}\" cascade", pg.schema);
                if let Err(err) = ended.and(execute(&mut conn, sql).await) {
                    eprintln!("cannot drop the test schema {}: {err}", pg.schema);
                }
            });
        }
    }
}

static NEXT_SCHEMA: AtomicU32 = AtomicU32::new(0);

async fn execute(conn: &mut PgConnection, sql: String) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(conn)
        .await
        .map(|_| ())
}

/// The database this process creates its test schemas in, on the server of `admin_url`:
/// `kwtest_<pid>`, created on first use (creating a database takes most of a second here, a
/// schema milliseconds). It outlives the process — Rust runs no destructor for it at exit — and
/// the first test of a later process drops it, as it drops every `kwtest_<pid>` whose process is
/// gone; `scripts/test.sh` does the same when the suite ends.
fn process_database(admin_url: &str) -> String {
    static CREATED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let name = format!("{PREFIX}{}", std::process::id());
    let mut created = CREATED.lock().unwrap();
    if !created.iter().any(|url| url == admin_url) {
        let (admin, database) = (admin_url.to_owned(), name.clone());
        blocking(async move {
            let mut conn = connect(&admin).await;
            drop_abandoned(&mut conn).await;
            create(&mut conn, &database).await;
        });
        created.push(admin_url.to_owned());
    }
    name
}

/// Where one test's server keeps its state: a data directory (the bootstrap key file, and the
/// SQLite database) and the [`TestDatabase`].
#[derive(Debug)]
pub struct TestStorage {
    pub dir: TempDir,
    pub database: TestDatabase,
}

impl TestStorage {
    pub fn new() -> TestStorage {
        TestStorage {
            dir: tempfile::tempdir().expect("a temporary data directory"),
            database: TestDatabase::new(),
        }
    }

    /// Storage on the embedded SQLite file, whatever `KEYWARD_TEST_DATABASE` says: for tests of
    /// what only SQLite has (its files and their modes).
    pub fn sqlite() -> TestStorage {
        TestStorage {
            dir: tempfile::tempdir().expect("a temporary data directory"),
            database: TestDatabase::sqlite(),
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `--database-url` for keyward: `None` (its embedded file) on SQLite.
    pub fn database_url(&self) -> Option<String> {
        self.database.url().map(str::to_owned)
    }

    /// The URL of the database itself, for a second server sharing it or a test reading it.
    pub fn url(&self) -> String {
        self.database.url_or_file(self.dir.path())
    }

    /// A connection of sqlx's `Any` driver straight to the database, for tests that check what
    /// a change left in it, or write what an earlier version would have (SQL both backends
    /// accept; `$1` placeholders). A SQLite file that does not exist yet is created.
    pub async fn inspect(&self) -> AnyConnection {
        sqlx::any::install_default_drivers();
        let url = match self.database.url() {
            Some(url) => url.to_owned(),
            None => format!("{}?mode=rwc", self.url()),
        };
        AnyConnection::connect(&url)
            .await
            .unwrap_or_else(|err| panic!("cannot open the test database {}: {err}", self.url()))
    }
}

impl TestStorage {
    /// Everything the database holds, as bytes to search: on SQLite every file of the data
    /// directory (database, write-ahead log, shared memory); on PostgreSQL every row of every
    /// table as PostgreSQL writes it as text (`bytea` as `\\x` and hex).
    pub async fn contents(&self) -> Vec<u8> {
        let Some(url) = self.database.url() else {
            let mut all = Vec::new();
            for entry in std::fs::read_dir(self.dir.path()).expect("the data directory") {
                let path = entry.expect("a directory entry").path();
                if path.is_file() {
                    all.extend(std::fs::read(path).expect("a data file"));
                }
            }
            return all;
        };
        let mut conn = connect(url).await;
        let tables: Vec<(String,)> = sqlx::query_as(
            "select table_name::text from information_schema.tables \
             where table_schema = current_schema() order by 1",
        )
        .fetch_all(&mut conn)
        .await
        .expect("the tables of the test schema");
        let mut all = Vec::new();
        for (table,) in tables {
            let sql = format!("select t::text from \"{table}\" t");
            let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut conn)
                .await
                .expect("the rows of a table");
            for (row,) in rows {
                all.extend(row.into_bytes());
                all.push(b'\n');
            }
        }
        all
    }
}

impl Default for TestStorage {
    fn default() -> Self {
        TestStorage::new()
    }
}

/// Runs `future` to completion on a runtime of its own, on a thread of its own: usable inside
/// or outside another runtime, and from `Drop` while a test unwinds.
pub fn blocking<T: Send + 'static>(
    future: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the test database")
            .block_on(future)
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

const PREFIX: &str = "kwtest_";

async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url).await.unwrap_or_else(|err| {
        panic!(
            "KEYWARD_TEST_DATABASE=postgres: cannot connect to the PostgreSQL server at {url} \
             ({err}). Start it (Debian: pg_ctlcluster <version> main start) or point \
             KEYWARD_TEST_POSTGRES_URL at one where this user may create databases."
        )
    })
}

async fn create(conn: &mut PgConnection, name: &str) {
    let icu = format!(
        "create database \"{name}\" template template0 encoding 'UTF8' \
         locale_provider icu icu_locale 'en-US' locale 'C.UTF-8'"
    );
    let Err(err) = execute(conn, icu).await else {
        return;
    };
    eprintln!(
        "this PostgreSQL server cannot create a database with an ICU collation ({err}); the \
         tests use its default collation, so they cannot tell whether keyward's ordering \
         depends on it"
    );
    execute(conn, format!("create database \"{name}\""))
        .await
        .unwrap_or_else(|err| panic!("cannot create the test database {name}: {err}"));
}

/// Drops the test databases of processes that no longer run (killed before their drops ran).
async fn drop_abandoned(conn: &mut PgConnection) {
    let names: Vec<(String,)> =
        sqlx::query_as("select datname from pg_database where datname like 'kwtest\\_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    for (name,) in names {
        let pid = name
            .strip_prefix(PREFIX)
            .and_then(|pid| pid.parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let _ = execute(
            conn,
            format!("drop database if exists \"{name}\" with (force)"),
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "t"),
            "postgres://u@h:5432/t"
        );
        assert_eq!(
            with_database("postgres://u@h/postgres?sslmode=disable", "t"),
            "postgres://u@h/t?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "t"), "postgres://u@h/t");
    }
}
