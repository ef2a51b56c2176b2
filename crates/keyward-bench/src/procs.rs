//! The two servers under test run as child processes: keyward's release binary and this binary's
//! hidden `baseline-server` subcommand. Each prints `… listening on <address>` to stderr; its
//! stderr is kept in a log file for diagnostics. Children are stopped (SIGTERM, then SIGKILL) when
//! their guard drops, including on an error.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub struct ChildGuard {
    name: String,
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl ChildGuard {
    /// Spawns `command` with stderr captured to `log`, and waits until it says where it listens.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> anyhow::Result<ChildGuard> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {name}: {command:?}"))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut log_file =
            File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let (found, listening) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log_file, "{line}");
                if let Some((_, rest)) = line.split_once("listening on ") {
                    let _ = found.send(rest.trim().trim_start_matches("http://").to_owned());
                }
            }
        });
        let mut guard = ChildGuard {
            name: name.to_owned(),
            child,
            addr: ([127, 0, 0, 1], 0).into(),
            log: log.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match listening.recv_timeout(Duration::from_millis(100)) {
                Ok(addr) => {
                    guard.addr = addr.parse().with_context(|| {
                        format!("{name} printed an unreadable address {addr:?}")
                    })?;
                    return Ok(guard);
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {
                    if let Some(status) = guard.child.try_wait()? {
                        bail!(
                            "{name} exited with {status} before listening; its log:\n{}",
                            guard.log_tail()
                        );
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    bail!(
                        "{name} did not start listening within 60 s; its log:\n{}",
                        guard.log_tail()
                    )
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Its stderr closed without an address: it is exiting.
                    let status = guard.child.wait()?;
                    bail!(
                        "{name} exited with {status} before listening; its log:\n{}",
                        guard.log_tail()
                    );
                }
            }
        }
    }

    /// Whether the child is still running; if not, how it ended and the end of its log.
    pub fn status_report(&mut self) -> String {
        match self.child.try_wait() {
            Ok(None) => format!("{} (pid {}) is still running", self.name, self.child.id()),
            Ok(Some(status)) => format!(
                "{} exited with {status}; its log ends:\n{}",
                self.name,
                self.log_tail()
            ),
            Err(err) => format!("cannot tell whether {} runs: {err}", self.name),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of the child's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, up to 10 s to exit, then SIGKILL.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// CPU time (user + system) a process has used so far, from /proc (Linux only; None elsewhere).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is parenthesized and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(Duration::from_millis(ticks * 10))
}
