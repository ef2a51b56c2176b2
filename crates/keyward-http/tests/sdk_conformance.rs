//! Unkey's official TypeScript SDK (`@unkey/api` 2.x, pinned in `sdk-tests/package.json`) against
//! keyward: starts a server in-process, installs the SDK from the committed lockfile when
//! `sdk-tests/node_modules` is missing or stale, and runs `sdk-tests/conformance.mjs`, which fails
//! on the first wire mismatch. Needs Node.js 20+ and npm on PATH, and the npm registry the first
//! time (to install the SDK).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use keyward_http::{ServeConfig, Server};
use tokio::process::Command;

const ROOT_KEY: &str = "sdk_conformance_bootstrap_root_key_0123456789";

/// Written into `node_modules` after a successful `npm ci`: the manifest and lockfile it installed.
const STAMP: &str = ".keyward-installed-from";

const INSTALL_NODE: &str = "The SDK conformance test (crates/keyward-http/tests/sdk_conformance.rs) runs Unkey's \
     TypeScript SDK and needs Node.js 20 or newer with npm on PATH. Install them, e.g. from \
     https://nodejs.org/en/download (or `nvm install 20`, or your distribution's `nodejs` and \
     `npm` packages; on Debian or Ubuntu, scripts/install-test-tools.sh as root installs them), \
     then run the tests again.";

fn sdk_tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../sdk-tests")
        .canonicalize()
        .expect("sdk-tests/ at the repository root")
}

/// Runs `command` to completion within `limit`, killing it on timeout.
async fn run(mut command: Command, what: &str, limit: Duration) -> Output {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = match command.spawn() {
        Ok(child) => child,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            panic!("cannot run {what}: not found on PATH.\n{INSTALL_NODE}")
        }
        Err(err) => panic!("cannot run {what}: {err}"),
    };
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(output) => output.unwrap_or_else(|err| panic!("{what} failed to run: {err}")),
        Err(_) => panic!("{what} did not finish within {limit:?}; it was killed"),
    }
}

fn text(output: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout).trim_end(),
        String::from_utf8_lossy(&output.stderr).trim_end()
    )
}

/// Fails unless `node` (20+) and `npm` run.
async fn require_node() {
    let node = run(
        {
            let mut c = Command::new("node");
            c.arg("--version");
            c
        },
        "`node --version`",
        Duration::from_secs(30),
    )
    .await;
    assert!(
        node.status.success(),
        "`node --version` failed.\n{INSTALL_NODE}\n{}",
        text(&node)
    );
    let version = String::from_utf8_lossy(&node.stdout).trim().to_string();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(major >= 20, "Node.js {version} is too old.\n{INSTALL_NODE}");
    let npm = run(
        {
            let mut c = Command::new("npm");
            c.arg("--version");
            c
        },
        "`npm --version`",
        Duration::from_secs(60),
    )
    .await;
    assert!(
        npm.status.success(),
        "`npm --version` failed.\n{INSTALL_NODE}\n{}",
        text(&npm)
    );
}

/// The manifest and lockfile as one string: what `node_modules` must have been installed from.
fn install_source(dir: &Path) -> String {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|err| panic!("cannot read sdk-tests/{name}: {err}"))
    };
    format!(
        "package.json\n{}\npackage-lock.json\n{}",
        read("package.json"),
        read("package-lock.json")
    )
}

/// `npm ci` unless `node_modules` was installed from the current manifest and lockfile.
async fn install_sdk(dir: &Path) {
    let source = install_source(dir);
    let stamp = dir.join("node_modules").join(STAMP);
    let sdk = dir.join("node_modules/@unkey/api/package.json");
    if sdk.is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(source.as_str()) {
        return;
    }
    let mut command = Command::new("npm");
    command
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir);
    let output = run(command, "`npm ci` in sdk-tests/", Duration::from_secs(600)).await;
    assert!(
        output.status.success(),
        "`npm ci --no-audit --no-fund` in sdk-tests/ failed (it needs the npm registry the first \
         time).\n{}",
        text(&output)
    );
    std::fs::write(&stamp, source).expect("write the install stamp into sdk-tests/node_modules");
}

#[tokio::test(flavor = "multi_thread")]
async fn unkey_typescript_sdk_works_against_keyward() {
    require_node().await;
    let sdk_tests = sdk_tests_dir();
    install_sdk(&sdk_tests).await;

    // SQLite, or a PostgreSQL database of its own (KEYWARD_TEST_DATABASE).
    let storage = keyward_testing::TestStorage::new();
    let server = Server::start(ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: storage.data_dir().to_path_buf(),
        database_url: storage.database_url(),
        bootstrap_root_key: Some(ROOT_KEY.into()),
        ..Default::default()
    })
    .await
    .expect("start keyward");

    let mut command = Command::new("node");
    command
        .arg("conformance.mjs")
        .current_dir(&sdk_tests)
        .env("KEYWARD_URL", server.url())
        .env("KEYWARD_ROOT_KEY", ROOT_KEY);
    let output = run(
        command,
        "`node sdk-tests/conformance.mjs`",
        Duration::from_secs(300),
    )
    .await;

    server.shutdown().await.expect("stop keyward");
    assert!(
        output.status.success(),
        "Unkey's TypeScript SDK does not work against keyward ({}):\n{}",
        output.status,
        text(&output)
    );
    println!("{}", String::from_utf8_lossy(&output.stdout).trim_end());
}
