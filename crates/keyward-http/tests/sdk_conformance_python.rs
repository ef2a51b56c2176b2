//! Unkey's newest official Python SDK (`unkey-py` 3.2.2, pinned with everything it installs in
//! `sdk-tests/python/requirements.txt`) against keyward: creates a virtualenv under the target
//! directory and installs the SDK into it from PyPI when it is missing or stale, starts a server
//! in-process, and runs `sdk-tests/python/conformance.py`, which exercises rootKeys,
//! permissions, identities and verifyKey through the SDK unchanged and fails on the first
//! mismatch. Needs python3 with its `venv` module (Debian: python3-venv), and PyPI the first
//! time.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use keyward_http::{ServeConfig, Server};
use tokio::process::Command;

const ROOT_KEY: &str = "python_sdk_conformance_root_key_0123456789";

/// Written into the virtualenv after a successful install: the requirements it installed.
const STAMP: &str = "keyward-installed-from";

const INSTALL_PYTHON: &str = "The Python SDK conformance test (crates/keyward-http/tests/sdk_conformance_python.rs) \
     runs Unkey's Python SDK in a virtualenv and needs python3 with its venv module on PATH. \
     Install them (Debian or Ubuntu: the python3 and python3-venv packages; \
     scripts/install-test-tools.sh as root installs them), then run the tests again.";

fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../sdk-tests/python")
        .canonicalize()
        .expect("sdk-tests/python/ at the repository root")
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
            panic!("cannot run {what}: not found.\n{INSTALL_PYTHON}")
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

fn command(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args);
    c
}

/// The virtualenv's python with the pinned SDK installed: created, or reinstalled when the
/// requirements changed since (a stamp inside it records what it was installed from).
async fn sdk_python(sdk: &Path) -> PathBuf {
    let requirements = std::fs::read_to_string(sdk.join("requirements.txt"))
        .expect("read sdk-tests/python/requirements.txt");
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("unkey-py-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join(STAMP);
    if python.is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&requirements) {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let created = run(
        command(
            "python3",
            &["-m", "venv", venv.to_str().expect("a UTF-8 path")],
        ),
        "`python3 -m venv`",
        Duration::from_secs(120),
    )
    .await;
    assert!(
        created.status.success(),
        "`python3 -m venv` failed (Debian and Ubuntu need the python3-venv package).\n{INSTALL_PYTHON}\n{}",
        text(&created)
    );
    let installed = run(
        command(
            &python,
            &[
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "-r",
                sdk.join("requirements.txt").to_str().expect("a UTF-8 path"),
            ],
        ),
        "`pip install -r sdk-tests/python/requirements.txt`",
        Duration::from_secs(600),
    )
    .await;
    assert!(
        installed.status.success(),
        "installing unkey-py into {} failed (it needs PyPI the first time).\n{}",
        venv.display(),
        text(&installed)
    );
    std::fs::write(&stamp, requirements).expect("write the install stamp into the virtualenv");
    python
}

#[tokio::test(flavor = "multi_thread")]
async fn unkey_python_sdk_works_against_keyward() {
    let sdk = sdk_dir();
    let python = sdk_python(&sdk).await;

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

    let mut conformance = command(&python, &["conformance.py"]);
    conformance
        // The SDK's package has a `types` module: run from outside it, with no user site.
        .current_dir(&sdk)
        .env("PYTHONNOUSERSITE", "1")
        .env("KEYWARD_URL", server.url())
        .env("KEYWARD_ROOT_KEY", ROOT_KEY);
    let output = run(
        conformance,
        "`python sdk-tests/python/conformance.py`",
        Duration::from_secs(300),
    )
    .await;

    server.shutdown().await.expect("stop keyward");
    assert!(
        output.status.success(),
        "Unkey's Python SDK does not work against keyward ({}):\n{}",
        output.status,
        text(&output)
    );
    println!("{}", String::from_utf8_lossy(&output.stdout).trim_end());
}
