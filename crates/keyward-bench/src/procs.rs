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

    /// SIGTERM, up to 10 s to exit, then SIGKILL; to every process under the child first, so
    /// that a server run under a wrapper that forks (`perf stat`, `strace -f`) stops too, and the
    /// wrapper can exit on its own once its program has (`perf stat` reports then).
    pub fn stop(&mut self) {
        let child = self.child.id();
        let below = descendants(child);
        let stopped = if below.is_empty() {
            self.signal_and_wait("-TERM", &[child], Duration::from_secs(10))
        } else {
            self.signal_and_wait("-TERM", &below, Duration::from_secs(10))
                || self.signal_and_wait("-TERM", &[child], Duration::from_secs(5))
        };
        if !stopped {
            eprintln!("{} did not stop on SIGTERM; killing it", self.name);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let alive: Vec<u32> = below
            .into_iter()
            .filter(|pid| Path::new(&format!("/proc/{pid}")).exists())
            .collect();
        signal("-KILL", &alive);
    }

    /// Sends `sig` to `pids`; whether the child exited within `patience`.
    fn signal_and_wait(&mut self, sig: &str, pids: &[u32], patience: Duration) -> bool {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return true;
        }
        signal(sig, pids);
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

fn signal(signal: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(signal)
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Every process under `pid`, children before grandchildren (Linux: `/proc/<pid>/task/*/children`;
/// empty elsewhere).
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(parent) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|p| p.parse().ok()) {
                found.push(child);
                queue.push(child);
            }
        }
    }
    found
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

/// Resident memory of a process (`VmRSS`, in bytes), from /proc (Linux only; None elsewhere).
pub fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
