//! A private PostgreSQL server for tests that take the database away: initialized in a temporary
//! directory, listening on its own port of 127.0.0.1, stopped and removed on drop. Stopping it
//! disturbs no other test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

pub struct PgCluster {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
}

impl PgCluster {
    /// Initializes and starts a cluster. Panics, saying what is missing, where PostgreSQL's
    /// server programs cannot be found (`KEYWARD_TEST_PG_BIN` names their directory).
    pub fn start() -> PgCluster {
        let bin = server_bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("keyward-pg-")
            .tempdir()
            .expect("a temporary directory for the cluster");
        if is_root() {
            // PostgreSQL refuses to run as root: the cluster belongs to the postgres user.
            run(
                Command::new("chown").arg("postgres:").arg(dir.path()),
                "chown",
            );
        }
        let port = free_port();
        let cluster = PgCluster { dir, bin, port };
        let data = cluster.data_dir();
        run(
            cluster
                .command("initdb")
                .args(["--no-sync", "--auth=trust", "-U", "postgres", "-E", "UTF8"])
                .args(["--locale=C.UTF-8", "-D"])
                .arg(&data),
            "initdb",
        );
        cluster.start_again();
        cluster
    }

    /// Starts the stopped cluster and waits until it accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
            self.port,
            self.dir.path().display()
        );
        run(
            self.command("pg_ctl")
                .args(["-w", "-t", "60", "-D"])
                .arg(self.data_dir())
                .arg("-l")
                .arg(self.dir.path().join("server.log"))
                .args(["-o", &options, "start"]),
            "pg_ctl start",
        );
    }

    /// Stops the server at once, as a crash would (`-m immediate`): its clients' connections
    /// break, and new ones are refused until [`Self::start_again`].
    pub fn stop(&self) {
        run(
            self.command("pg_ctl")
                .args(["-w", "-m", "immediate", "-D"])
                .arg(self.data_dir())
                .arg("stop"),
            "pg_ctl stop",
        );
    }

    /// A URL of the database `database` on this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// One of PostgreSQL's server programs, run as the postgres user when we are root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.data_dir())
            .arg("stop")
            .output();
    }
}

fn run(command: &mut Command, what: &str) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {what} ({command:?}): {err}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `KEYWARD_TEST_PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin` (Debian's layout),
/// else the directory of `pg_ctl` on `PATH`.
fn server_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KEYWARD_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin);
    if let Some(bin) = debian {
        return bin;
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .find(|dir| Path::new(dir).join("pg_ctl").is_file())
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL's server programs (initdb, pg_ctl) were not found: install the \
                 PostgreSQL server (Debian: apt-get install postgresql) or set \
                 KEYWARD_TEST_PG_BIN to their directory"
            )
        })
}

/// A port of 127.0.0.1 free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}
