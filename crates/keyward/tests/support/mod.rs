//! `keyward serve` as a child process, for the tests that kill it, fill its disk or read its
//! logs: the real binary, started exactly as an operator starts it.

#![allow(dead_code)] // each test binary uses a part

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyward_testing::TestStorage;
use serde_json::Value;

pub const ROOT_KEY: &str = "support_test_root_key_0123456789";

/// A running `keyward serve` whose stderr is collected.
pub struct Process {
    pub child: Child,
    pub url: String,
    log: Arc<Mutex<String>>,
}

/// `keyward serve` over `data_dir` (and the database of `storage`, on PostgreSQL), listening on a
/// free port, with only the bootstrap key and `RUST_LOG=<log>` in its environment.
pub fn command(storage: &TestStorage, data_dir: &Path, log: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_clear()
        .env("KEYWARD_BOOTSTRAP_ROOT_KEY", ROOT_KEY)
        .env("RUST_LOG", log);
    if let Some(url) = storage.database_url() {
        command.arg("--database-url").arg(url);
    }
    command
}

impl Process {
    pub fn start(storage: &TestStorage, log: &str) -> Process {
        Process::spawn(command(storage, storage.data_dir(), log))
    }

    /// Runs `command` (a `keyward serve` that prints its address) with stderr collected.
    pub fn spawn(mut command: Command) -> Process {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("keyward starts");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(url) = line.strip_prefix("keyward listening on ") {
                        let _ = url_tx.send(url.to_owned());
                    }
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        let url = url_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("keyward did not start:\n{}", log.lock().unwrap()));
        Process { child, url, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGKILL: no shutdown, no flush, as a power cut or the OOM killer ends a process.
    pub fn kill_9(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        // The log reader thread drains what the process wrote before it died.
        std::thread::sleep(Duration::from_millis(50));
        self.log()
    }

    /// The process's resident set size in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

/// POSTs `body` to `/v2/<op>` with the bootstrap root key: (status, body); `None` where no
/// answer came (the server died mid-request).
pub async fn try_post(
    client: &reqwest::Client,
    url: &str,
    op: &str,
    body: &Value,
) -> Option<(u16, Value)> {
    let response = client
        .post(format!("{url}/v2/{op}"))
        .bearer_auth(ROOT_KEY)
        .json(body)
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.ok()?;
    Some((status, body))
}

/// POSTs with the bootstrap root key and returns `data`, asserting 200.
pub async fn post(client: &reqwest::Client, url: &str, op: &str, body: Value) -> Value {
    let (status, body) = try_post(client, url, op, &body)
        .await
        .unwrap_or_else(|| panic!("{op}: no answer"));
    assert_eq!(status, 200, "{op}: {body}");
    body["data"].clone()
}

/// A small xorshift generator: the tests' random choices, reproducible from the seed they print.
pub struct Rng(pub u64);

impl Rng {
    pub fn from_time() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        Rng(nanos | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
