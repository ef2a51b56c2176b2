//! A real server on loopback per test, and a builder that runs the real `keyward` binary against
//! it with a cleared environment (only `HOME`, a temporary directory, and `PATH`), so the
//! developer's own config and variables never leak in.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keyward_http::{ServeConfig, Server};
use keyward_testing::TestStorage;
use serde_json::{Value, json};
use tempfile::TempDir;

pub const ROOT_KEY: &str = "cli_test_root_key_0123456789abcdef";

pub struct TestServer {
    runtime: tokio::runtime::Runtime,
    server: Option<Server>,
    pub url: String,
    pub home: TempDir,
    /// The server's data directory and database (SQLite, or PostgreSQL with
    /// `KEYWARD_TEST_DATABASE=postgres`), dropped with it unless [`TestServer::stop`] hands it
    /// back.
    storage: Option<TestStorage>,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_on(TestStorage::new())
    }

    /// A server on `storage`: a restart, or a server on a database filled another way.
    pub fn start_on(storage: TestStorage) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: storage.data_dir().to_owned(),
            database_url: storage.database_url(),
            bootstrap_root_key: Some(ROOT_KEY.to_owned()),
            ..ServeConfig::default()
        };
        let server = runtime
            .block_on(Server::start(config))
            .expect("the server starts");
        let url = server.url();
        TestServer {
            runtime,
            server: Some(server),
            url,
            home: tempfile::tempdir().unwrap(),
            storage: Some(storage),
        }
    }

    /// `keyward` with `HOME`, `PATH`, `KEYWARD_API_URL` and `KEYWARD_ROOT_KEY` set.
    pub fn keyward(&self, args: &[&str]) -> Cli {
        self.bare(args)
            .env("KEYWARD_API_URL", &self.url)
            .env("KEYWARD_ROOT_KEY", ROOT_KEY)
    }

    /// `keyward` with nothing but `HOME` and `PATH` in its environment.
    pub fn bare(&self, args: &[&str]) -> Cli {
        Cli::new(self.home.path()).args(args)
    }

    /// `$HOME/.keyward/config.toml`
    pub fn default_config_path(&self) -> PathBuf {
        self.home.path().join(".keyward/config.toml")
    }

    /// Calls the API directly (not through the CLI) with `root_key`: status and body.
    pub fn call_with(&self, root_key: &str, operation: &str, body: Value) -> (u16, Value) {
        let url = format!("{}/v2/{operation}", self.url);
        self.runtime.block_on(async {
            let response = reqwest::Client::new()
                .post(url)
                .bearer_auth(root_key)
                .json(&body)
                .send()
                .await
                .expect("the server answers");
            let status = response.status().as_u16();
            (status, response.json().await.expect("a JSON body"))
        })
    }

    /// Calls the API directly with the bootstrap root key; panics unless it succeeds. Returns `data`.
    pub fn call(&self, operation: &str, body: Value) -> Value {
        let (status, body) = self.call_with(ROOT_KEY, operation, body);
        assert_eq!(status, 200, "{operation}: {body}");
        body["data"].clone()
    }

    pub fn create_api(&self, name: &str) -> String {
        self.call("apis.createApi", json!({ "name": name }))["apiId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A key of `external_id` in `api_id`: `(keyId, key)`.
    pub fn create_key(&self, api_id: &str, external_id: &str) -> (String, String) {
        let data = self.call(
            "keys.createKey",
            json!({ "apiId": api_id, "externalId": external_id }),
        );
        (
            data["keyId"].as_str().unwrap().to_owned(),
            data["key"].as_str().unwrap().to_owned(),
        )
    }

    /// A root key holding exactly `permissions`.
    pub fn root_key_with(&self, permissions: &[&str]) -> String {
        let data = self.call(
            "rootKeys.createRootKey",
            json!({ "name": "limited", "permissions": permissions }),
        );
        data["key"].as_str().unwrap().to_owned()
    }

    /// The ids of the live keys of `external_id`, across all pages, in listing order.
    pub fn live_keys(&self, api_id: &str, external_id: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut body = json!({ "apiId": api_id, "externalId": external_id });
            if let Some(c) = cursor.take() {
                body["cursor"] = json!(c);
            }
            let (status, page) = self.call_with(ROOT_KEY, "apis.listKeys", body);
            assert_eq!(status, 200, "{page}");
            ids.extend(
                page["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k["keyId"].as_str().unwrap().to_owned()),
            );
            match page["pagination"]["cursor"].as_str() {
                Some(c) if page["pagination"]["hasMore"] == true => cursor = Some(c.to_owned()),
                _ => return ids,
            }
        }
    }

    /// The verification code of `key`.
    pub fn verify(&self, key: &str) -> String {
        self.call("keys.verifyKey", json!({ "key": key }))["code"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

impl TestServer {
    /// Shuts the server down (writing its pending `lastUsedAt` marks) and hands back its storage.
    pub fn stop(mut self) -> TestStorage {
        if let Some(server) = self.server.take() {
            self.runtime
                .block_on(server.shutdown())
                .expect("the server stops");
        }
        self.storage.take().expect("the storage")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = self.runtime.block_on(server.shutdown());
        }
    }
}

/// A URL where nothing listens: a port bound and released again.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// One run of the binary.
pub struct Cli {
    command: Command,
    stdin: Option<String>,
}

impl Cli {
    pub fn new(home: &Path) -> Cli {
        let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
        command
            .env_clear()
            .env("HOME", home)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        Cli {
            command,
            stdin: None,
        }
    }

    pub fn args(mut self, args: &[&str]) -> Cli {
        self.command.args(args);
        self
    }

    pub fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Cli {
        self.command.env(name, value);
        self
    }

    pub fn stdin(mut self, text: &str) -> Cli {
        self.stdin = Some(text.to_owned());
        self
    }

    pub fn spawn(mut self) -> Child {
        self.command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.command.spawn().expect("keyward starts")
    }

    pub fn run(mut self) -> Out {
        self.command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.command.spawn().expect("keyward starts");
        if let Some(text) = self.stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        Out::from(child.wait_with_output().unwrap())
    }
}

/// What a run printed, and how it ended.
#[derive(Debug)]
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Out {
    fn from(output: std::process::Output) -> Out {
        Out {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

impl Out {
    /// Asserts the exit code.
    pub fn exit(&self, code: i32) -> &Out {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn ok(&self) -> &Out {
        self.exit(0)
    }

    /// stdout as JSON (the `--output=json` mode).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// Checks the default output format of the seed — `<requestId> (took <N>ms)`, a blank line,
    /// `data` as indented JSON — and returns `(requestId, data)`.
    pub fn default_output(&self) -> (String, Value) {
        let (first, rest) = self.stdout.split_once('\n').expect("a first line");
        let (request_id, took) = first.split_once(' ').expect("<requestId> (took <N>ms)");
        assert!(
            request_id.starts_with("req_") && request_id.len() > 8,
            "request id in {first:?}"
        );
        let millis = took
            .strip_prefix("(took ")
            .and_then(|t| t.strip_suffix("ms)"))
            .expect("(took <N>ms)");
        assert!(
            millis.parse::<u64>().is_ok(),
            "whole milliseconds in {first:?}"
        );
        let body = rest
            .strip_prefix('\n')
            .expect("a blank line after the request line");
        let data: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("data is not JSON ({e}):\n{body}"));
        assert!(body.ends_with('\n'), "ends with a newline");
        if data.as_object().is_some_and(|o| !o.is_empty()) {
            assert!(body.starts_with("{\n  \""), "indented JSON:\n{body}");
        }
        (request_id.to_owned(), data)
    }

    /// `data` of the default output.
    pub fn data(&self) -> Value {
        self.default_output().1
    }
}

/// Waits until `done` holds, checking every few milliseconds; panics after a minute.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The exit of a spawned run, with its output.
pub fn finish(child: Child) -> Out {
    Out::from(child.wait_with_output().unwrap())
}
