//! What happens on a terminal: the bulk confirmation prompt and `auth login`'s hidden input.
//! The binary runs under `script(1)` (util-linux), which gives it a pseudo-terminal; the answer
//! is typed only once the prompt is on screen. Without `script` these tests fail, naming what
//! to install: skipped, they would pass while proving nothing.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::support::{ROOT_KEY, TestServer, wait_until};

/// `keyward <args>` on a pseudo-terminal, with the test server in its environment.
struct Terminal {
    child: Child,
    input: Option<ChildStdin>,
    screen: Arc<Mutex<String>>,
}

impl Terminal {
    fn start(t: &TestServer, args: &[&str], root_key: Option<&str>) -> Terminal {
        if let Err(err) = Command::new("script").arg("--version").output() {
            panic!(
                "cannot run script(1) ({err}), which these tests need to give keyward a terminal. \
                 Install util-linux's script (Debian and Ubuntu: `apt-get install bsdutils`; \
                 Fedora: `dnf install util-linux-script`), or run scripts/install-test-tools.sh as \
                 root on Debian, then run the tests again."
            );
        }
        let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let line = std::iter::once(env!("CARGO_BIN_EXE_keyward"))
            .chain(args.iter().copied())
            .map(quote);
        let mut command = Command::new("script");
        command
            .args([
                "-q",
                "-e",
                "-c",
                &line.collect::<Vec<_>>().join(" "),
                "/dev/null",
            ])
            .env_clear()
            .env("HOME", t.home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TERM", "dumb")
            .env("KEYWARD_API_URL", &t.url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(key) = root_key {
            command.env("KEYWARD_ROOT_KEY", key);
        }
        let mut child = command.spawn().expect("script starts");
        let mut output = child.stdout.take().unwrap();
        let screen = Arc::new(Mutex::new(String::new()));
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = output.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let input = child.stdin.take();
        Terminal {
            child,
            input,
            screen,
        }
    }

    fn screen(&self) -> String {
        self.screen.lock().unwrap().clone()
    }

    /// Waits for `prompt` on screen, then types `answer` and Enter.
    fn answer(&mut self, prompt: &str, answer: &str) {
        wait_until(&format!("the prompt {prompt:?} shows"), || {
            self.screen().contains(prompt)
        });
        let input = self.input.as_mut().unwrap();
        input.write_all(format!("{answer}\r").as_bytes()).unwrap();
        input.flush().unwrap();
    }

    /// The exit code and everything the terminal showed.
    fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        drop(self.input.take());
        // The reader thread drains what is left once the pty closes.
        std::thread::sleep(std::time::Duration::from_millis(50));
        (status.code(), self.screen())
    }
}

#[test]
fn bulk_revocation_asks_on_a_terminal() {
    let t = TestServer::start();
    let api = t.create_api("tty");
    let keys: Vec<(String, String)> = (0..3).map(|_| t.create_key(&api, "user_tty")).collect();
    let args = [
        "api",
        "keys",
        "delete-keys",
        "--api-id",
        api.as_str(),
        "--external-id",
        "user_tty",
    ];

    let mut no = Terminal::start(&t, &args, Some(ROOT_KEY));
    no.answer("[y/N]", "n");
    let (code, screen) = no.finish();
    assert_eq!(code, Some(1), "{screen}");
    assert!(
        screen.contains("About to delete 3 keys of external id 'user_tty'"),
        "{screen}"
    );
    assert!(screen.contains("Aborted: nothing was changed."), "{screen}");
    assert_eq!(t.verify(&keys[0].1), "VALID");

    let mut yes = Terminal::start(&t, &args, Some(ROOT_KEY));
    yes.answer("[y/N]", "y");
    let (code, screen) = yes.finish();
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        screen.contains("Deleted the keys of external id 'user_tty'"),
        "{screen}"
    );
    for (_, key) in &keys {
        assert_eq!(t.verify(key), "NOT_FOUND");
    }
}

#[test]
fn login_reads_the_key_without_echo_on_a_terminal() {
    let t = TestServer::start();
    let mut login = Terminal::start(&t, &["auth", "login"], None);
    login.answer("Root key (input is hidden): ", ROOT_KEY);
    let (code, screen) = login.finish();
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("Logged in"), "{screen}");
    assert!(!screen.contains(ROOT_KEY), "the key was echoed:\n{screen}");
    let saved = std::fs::read_to_string(t.default_config_path()).unwrap();
    assert!(saved.contains(ROOT_KEY));
}
