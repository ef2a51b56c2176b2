//! `keyward-bench`: keyward's `keys.verifyKey` over HTTP/1.1 keep-alive on loopback, next to a
//! minimal axum baseline answering a JSON body of the same size, both driven by the same load
//! generator with the same connections in the same run. See docs/BENCHMARKS.md.
//!
//! Run it with `cargo run --release -p keyward-bench` (it builds keyward's release binary first,
//! with the same cargo and target directory) — `--help` lists the knobs.

mod baseline;
mod load;
mod procs;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use hyper::Method;
use hyper::header::HeaderValue;

use load::{Conn, PhaseResult, Target};
use procs::ChildGuard;

const ROOT_KEY: &str = "keyward_bench_root_key_do_not_use";
const VERIFY_PATH: &str = "/v2/keys.verifyKey";
const VALID_MARKER: &[u8] = br#""valid":true"#;

#[derive(Debug, Parser)]
#[command(
    name = "keyward-bench",
    about = "Benchmark keyward's keys.verifyKey against a minimal axum baseline (loopback, HTTP/1.1 keep-alive)",
    after_help = "Run with `cargo run --release -p keyward-bench`. Traffic goes to 127.0.0.1 only; every phase is \
bounded in time. The figures of a recorded run are in docs/BENCHMARKS.md."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    bench: BenchArgs,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// The baseline server (started by the benchmark itself).
    #[command(hide = true)]
    BaselineServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// The exact response body to answer.
        #[arg(long)]
        body: String,
    },
}

#[derive(Debug, clap::Args)]
struct BenchArgs {
    /// Key counts to benchmark, each against a fresh database, e.g. `--keys 10000,1000000`.
    #[arg(long, value_delimiter = ',', default_value = "100000")]
    keys: Vec<usize>,
    /// Keep-alive connections of the load generator (the same for keyward and the baseline).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds measured in each phase.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of load before each measured phase (not counted).
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Open-loop rate as a fraction of the baseline's saturating (closed-loop) rate.
    #[arg(long, default_value_t = 0.5)]
    open_fraction: f64,
    /// Worker threads of the load generator's tokio runtime.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// Concurrent keys.createKey requests while creating keys.
    #[arg(long, default_value_t = 16)]
    create_concurrency: usize,
    /// keyward's cache TTL (`keyward serve --cache-ttl-secs`). The default outlasts the run so
    /// that the cache holds every key throughout; keyward's own default is 60 s, under which
    /// a working set of 1,000,000 keys cannot stay cached (see docs/BENCHMARKS.md).
    #[arg(long, default_value_t = 3600)]
    cache_ttl_secs: u64,
    /// The keyward binary to benchmark. Default: <target dir>/release/keyward, built first.
    #[arg(long)]
    keyward_bin: Option<PathBuf>,
    /// Do not run `cargo build --release -p keyward` first.
    #[arg(long)]
    no_build: bool,
    /// Keep the temporary data directories (database and logs) and print where they are.
    #[arg(long)]
    keep_data: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Sub::BaselineServer { listen, body }) => baseline::run(listen, body),
        None => bench(cli.bench),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keyward-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The release binary of keyward, built first unless `--no-build` or `--keyward-bin`.
fn keyward_binary(args: &BenchArgs) -> anyhow::Result<PathBuf> {
    if let Some(bin) = &args.keyward_bin {
        anyhow::ensure!(
            bin.is_file(),
            "--keyward-bin {} does not exist",
            bin.display()
        );
        return Ok(bin.clone());
    }
    let root = workspace_root();
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => std::env::current_dir()?.join(dir),
        None => root.join("target"),
    };
    let bin = target_dir.join("release").join("keyward");
    if !args.no_build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        eprintln!("building keyward (release): cargo build --release -p keyward");
        let status = Command::new(&cargo)
            .args(["build", "--release", "-p", "keyward"])
            .current_dir(&root)
            .status()
            .with_context(|| format!("cannot run {cargo:?}"))?;
        anyhow::ensure!(
            status.success(),
            "`cargo build --release -p keyward` failed ({status})"
        );
    }
    if !bin.is_file() {
        bail!(
            "{} does not exist: run `cargo build --release -p keyward` first (or drop --no-build, or pass --keyward-bin)",
            bin.display()
        );
    }
    Ok(bin)
}

fn bench(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.connections > 0 && args.duration > 0,
        "--connections and --duration must be positive"
    );
    anyhow::ensure!(
        !args.keys.is_empty() && args.keys.iter().all(|&k| k > 0),
        "--keys must list positive counts"
    );
    let keyward = keyward_binary(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(run_all(args, keyward))
}

/// Figures of one key count.
struct Section {
    keys: usize,
    seed_time: Duration,
    warm: PhaseResult,
    base_closed: PhaseResult,
    kw_closed: PhaseResult,
    open_rate: f64,
    base_open: PhaseResult,
    kw_open: PhaseResult,
    /// Server CPU time per request in the closed-loop phases.
    base_cpu_per_req: Option<Duration>,
    kw_cpu_per_req: Option<Duration>,
    gen_cpu_per_req: Option<Duration>,
    /// keyward's key-cache misses during the measured phases (0 = every lookup was a hit).
    cache_misses: Option<u64>,
}

async fn run_all(args: BenchArgs, keyward: PathBuf) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let mut baseline: Option<ChildGuard> = None;
    let mut sections = Vec::new();
    let started = Instant::now();
    let mut kept = Vec::new();

    for &keys in &args.keys {
        let dir = tempfile::Builder::new()
            .prefix("keyward-bench-")
            .tempdir()?;
        eprintln!("\n== {keys} keys (data in {}) ==", dir.path().display());

        let mut command = Command::new(&keyward);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--cache-ttl-secs", &args.cache_ttl_secs.to_string()])
            .env("KEYWARD_BOOTSTRAP_ROOT_KEY", ROOT_KEY)
            .env("RUST_LOG", "info")
            .env_remove("KEYWARD_DATABASE_URL")
            .env_remove("KEYWARD_CACHE_CAPACITY");
        let server = ChildGuard::spawn("keyward", command, &dir.path().join("keyward.log"))
            .with_context(|| {
                format!(
                    "is {} a current release build? `cargo build --release -p keyward` makes one",
                    keyward.display()
                )
            })?;
        eprintln!(
            "keyward (pid {}) listening on {}",
            server.pid(),
            server.addr
        );

        let auth = HeaderValue::from_str(&format!("Bearer {ROOT_KEY}"))?;
        let seed_started = Instant::now();
        let bodies = create_keys(server.addr, &auth, keys, args.create_concurrency).await?;
        let seed_time = seed_started.elapsed();
        eprintln!(
            "created {keys} keys through keys.createKey in {:.1} s ({:.0} keys/s, {} connections)",
            seed_time.as_secs_f64(),
            keys as f64 / seed_time.as_secs_f64(),
            args.create_concurrency
        );

        // One checked sample: its body is what the baseline answers, byte for byte in size.
        let mut conn = Conn::open(server.addr).await?;
        let (status, sample) = conn
            .post(VERIFY_PATH, Some(&auth), bodies[0].clone())
            .await?;
        if status != 200 || !load::contains(&sample, VALID_MARKER) {
            bail!(
                "a verification of a fresh key failed: HTTP {status} {}",
                String::from_utf8_lossy(&sample)
            );
        }
        let sample = String::from_utf8(sample.to_vec())?;
        if baseline.is_none() {
            let mut command = Command::new(&exe);
            command.args([
                "baseline-server",
                "--listen",
                "127.0.0.1:0",
                "--body",
                &sample,
            ]);
            let log = std::env::temp_dir()
                .join(format!("keyward-bench-baseline-{}.log", std::process::id()));
            let guard = ChildGuard::spawn("baseline", command, &log)?;
            eprintln!(
                "baseline (pid {}) listening on {}, answering {} bytes",
                guard.pid(),
                guard.addr,
                sample.len()
            );
            baseline = Some(guard);
        }
        let base = baseline.as_ref().expect("started above");

        let bodies: Arc<[Bytes]> = bodies.into();
        let kw_target = Arc::new(Target {
            addr: server.addr,
            path: VERIFY_PATH,
            authorization: Some(auth.clone()),
            bodies: bodies.clone(),
            expect: VALID_MARKER,
        });
        let base_target = Arc::new(Target {
            addr: base.addr,
            path: VERIFY_PATH,
            authorization: Some(auth.clone()),
            bodies: bodies.clone(),
            expect: VALID_MARKER,
        });

        // Warm the cache: every key once (each a cache miss and a database read).
        let warm = load::each_once(kw_target.clone(), args.connections).await?;
        check("warm-up pass", &warm)?;
        eprintln!(
            "warm-up: verified each key once in {:.1} s ({:.0} req/s, cache misses)",
            warm.window.as_secs_f64(),
            warm.rate()
        );

        let misses_before = cache_misses(server.addr).await;
        let warmup = Duration::from_secs(args.warmup);
        let duration = Duration::from_secs(args.duration);
        let me = std::process::id();

        let (base_closed, base_cpu, gen_cpu_b) = measure(base.pid(), me, || {
            load::closed_loop(base_target.clone(), args.connections, warmup, duration, 0)
        })
        .await?;
        check("baseline closed loop", &base_closed)?;
        report_phase("baseline closed loop", &base_closed);

        let (kw_closed, kw_cpu, gen_cpu_k) = measure(server.pid(), me, || {
            load::closed_loop(
                kw_target.clone(),
                args.connections,
                warmup,
                duration,
                keys / 2,
            )
        })
        .await?;
        check("keyward closed loop", &kw_closed)?;
        report_phase("keyward closed loop", &kw_closed);

        let open_rate = base_closed.rate() * args.open_fraction;
        let base_open = load::open_loop(
            base_target.clone(),
            args.connections,
            open_rate,
            warmup,
            duration,
            0,
        )
        .await?;
        check("baseline open loop", &base_open)?;
        report_phase(
            &format!("baseline open loop @ {open_rate:.0}/s"),
            &base_open,
        );
        let kw_open = load::open_loop(
            kw_target.clone(),
            args.connections,
            open_rate,
            warmup,
            duration,
            keys / 3,
        )
        .await?;
        check("keyward open loop", &kw_open)?;
        report_phase(&format!("keyward open loop @ {open_rate:.0}/s"), &kw_open);

        let misses_after = cache_misses(server.addr).await;
        let per_req = |cpu: Option<Duration>, n: u64| {
            cpu.map(|c| c / u32::try_from(n.max(1)).unwrap_or(u32::MAX))
        };
        let gen_cpu = match (gen_cpu_b, gen_cpu_k) {
            (Some(a), Some(b)) => per_req(
                Some(a + b),
                base_closed.all_requests + kw_closed.all_requests,
            ),
            _ => None,
        };
        sections.push(Section {
            keys,
            seed_time,
            base_cpu_per_req: per_req(base_cpu, base_closed.all_requests),
            kw_cpu_per_req: per_req(kw_cpu, kw_closed.all_requests),
            gen_cpu_per_req: gen_cpu,
            warm,
            base_closed,
            kw_closed,
            open_rate,
            base_open,
            kw_open,
            cache_misses: misses_before
                .zip(misses_after)
                .map(|(b, a)| a.saturating_sub(b)),
        });

        drop(server);
        if args.keep_data {
            kept.push(dir.keep());
        }
    }
    drop(baseline);

    print_report(&args, &sections, started.elapsed());
    for dir in kept {
        eprintln!("kept {}", dir.display());
    }
    Ok(())
}

/// Runs a phase and returns it with the CPU time used meanwhile by the server `pid` and by this
/// process (the load generator).
async fn measure<F, Fut>(
    pid: u32,
    me: u32,
    phase: F,
) -> anyhow::Result<(PhaseResult, Option<Duration>, Option<Duration>)>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<PhaseResult>>,
{
    let (server0, me0) = (procs::cpu_time(pid), procs::cpu_time(me));
    let result = phase().await?;
    let (server1, me1) = (procs::cpu_time(pid), procs::cpu_time(me));
    let delta =
        |a: Option<Duration>, b: Option<Duration>| a.zip(b).map(|(a, b)| b.saturating_sub(a));
    Ok((result, delta(server0, server1), delta(me0, me1)))
}

fn check(phase: &str, result: &PhaseResult) -> anyhow::Result<()> {
    if result.errors > 0 {
        bail!(
            "{phase}: {} of {} requests failed; first: {}",
            result.errors,
            result.errors + result.requests,
            result.first_error.as_deref().unwrap_or("?")
        );
    }
    if result.requests == 0 {
        bail!("{phase}: no request completed");
    }
    if result.missed > 0 {
        eprintln!(
            "{phase}: {} scheduled requests were never sent within the time bound (the server fell behind)",
            result.missed
        );
    }
    Ok(())
}

fn report_phase(name: &str, r: &PhaseResult) {
    eprintln!(
        "{name}: {:.0} req/s, p50 {}, p99 {}, max {}",
        r.rate(),
        micros(r.quantile(0.5)),
        micros(r.quantile(0.99)),
        micros(r.quantile(1.0))
    );
}

fn micros(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// keyward's `keyward_cache_misses_total{cache="keys"}`.
async fn cache_misses(addr: SocketAddr) -> Option<u64> {
    let mut conn = Conn::open(addr).await.ok()?;
    let (status, body) = conn
        .request(Method::GET, "/metrics", None, Bytes::new())
        .await
        .ok()?;
    if status != 200 {
        return None;
    }
    let text = String::from_utf8(body.to_vec()).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(r#"keyward_cache_misses_total{cache="keys"} "#))
        .and_then(|n| n.trim().parse().ok())
}

/// Creates an API and `count` keys through the HTTP API; returns one verifyKey body per key.
async fn create_keys(
    addr: SocketAddr,
    auth: &HeaderValue,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Bytes>> {
    let mut conn = Conn::open(addr).await?;
    let (status, body) = conn
        .post(
            "/v2/apis.createApi",
            Some(auth),
            Bytes::from_static(br#"{"name":"bench"}"#),
        )
        .await?;
    let created: serde_json::Value = serde_json::from_slice(&body)?;
    let api_id = match created["data"]["apiId"].as_str() {
        Some(id) if status == 200 => id.to_owned(),
        _ => bail!("apis.createApi failed: HTTP {status} {created}"),
    };
    let request = Bytes::from(serde_json::json!({ "apiId": api_id }).to_string());

    let done = Arc::new(AtomicUsize::new(0));
    let progress = {
        let done = done.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let n = done.load(Relaxed);
                eprintln!(
                    "  created {n}/{count} keys ({:.0} keys/s)",
                    n as f64 / started.elapsed().as_secs_f64()
                );
            }
        })
    };
    let concurrency = concurrency.clamp(1, count);
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let (auth, request, done) = (auth.clone(), request.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut keys = Vec::new();
            for i in (c..count).step_by(concurrency) {
                let (status, body) = conn
                    .post("/v2/keys.createKey", Some(&auth), request.clone())
                    .await?;
                let value: serde_json::Value = serde_json::from_slice(&body)?;
                let Some(key) = value["data"]["key"].as_str().filter(|_| status == 200) else {
                    bail!("keys.createKey failed: HTTP {status} {value}");
                };
                keys.push((
                    i,
                    Bytes::from(serde_json::json!({ "key": key }).to_string()),
                ));
                done.fetch_add(1, Relaxed);
            }
            anyhow::Ok(keys)
        }));
    }
    let mut bodies = vec![Bytes::new(); count];
    let mut failure = None;
    for task in tasks {
        match task.await? {
            Ok(keys) => keys.into_iter().for_each(|(i, body)| bodies[i] = body),
            Err(err) => failure = failure.or(Some(err)),
        }
    }
    progress.abort();
    match failure {
        Some(err) => Err(err),
        None => Ok(bodies),
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}

fn opt_micros(d: Option<Duration>) -> String {
    d.map_or_else(
        || "?".into(),
        |d| format!("{:.1} µs", d.as_secs_f64() * 1e6),
    )
}

fn print_report(args: &BenchArgs, sections: &[Section], elapsed: Duration) {
    let threads = std::thread::available_parallelism().map_or(0, usize::from);
    println!();
    println!(
        "keyward-bench: {} connections, HTTP/1.1 keep-alive on loopback, {} s measured per phase after {} s warm-up, \
         open loop at {:.0}% of the baseline's closed-loop rate; {threads} CPUs; load generator on {} threads; \
         keyward cache TTL {} s; whole run {:.0} s",
        args.connections,
        args.duration,
        args.warmup,
        args.open_fraction * 100.0,
        args.client_threads,
        args.cache_ttl_secs,
        elapsed.as_secs_f64()
    );
    println!();
    println!(
        "| keys | server | closed req/s | closed p50 | closed p99 | open rate/s | open p50 | open p99 | open max | server CPU/req |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for s in sections {
        for (name, closed, open, cpu) in [
            ("baseline", &s.base_closed, &s.base_open, s.base_cpu_per_req),
            ("keyward", &s.kw_closed, &s.kw_open, s.kw_cpu_per_req),
        ] {
            println!(
                "| {} | {name} | {:.0} | {} | {} | {:.0} | {} | {} | {} | {} |",
                s.keys,
                closed.rate(),
                micros(closed.quantile(0.5)),
                micros(closed.quantile(0.99)),
                open.rate(),
                micros(open.quantile(0.5)),
                micros(open.quantile(0.99)),
                micros(open.quantile(1.0)),
                opt_micros(cpu),
            );
        }
    }
    println!();
    println!(
        "| keys | keyward/baseline throughput | ≥ 0.8 | keyward open p99 < 1 ms | key creation | cold pass (cache misses) | cache misses while measuring | generator CPU/req |"
    );
    println!("|---:|---:|---|---|---:|---:|---:|---:|");
    for s in sections {
        let ratio = s.kw_closed.rate() / s.base_closed.rate();
        let p99 = s.kw_open.quantile(0.99);
        println!(
            "| {} | {ratio:.2} | {} | {} ({}) | {:.0} s ({:.0}/s) | {:.0} req/s | {} | {} |",
            s.keys,
            verdict(ratio >= 0.8),
            verdict(p99 < Duration::from_millis(1) && s.kw_open.ok()),
            micros(p99),
            s.seed_time.as_secs_f64(),
            s.keys as f64 / s.seed_time.as_secs_f64(),
            s.warm.rate(),
            s.cache_misses.map_or_else(|| "?".into(), |m| m.to_string()),
            opt_micros(s.gen_cpu_per_req),
        );
        let _ = s.open_rate;
    }
    if let (Some(first), Some(last)) = (sections.first(), sections.last())
        && sections.len() > 1
    {
        let ratio = |s: &Section| s.kw_closed.rate() / s.base_closed.rate();
        let change = ratio(last) / ratio(first);
        println!();
        println!(
            "keyward/baseline at {} keys vs {} keys: {:.2} vs {:.2} ({:+.0}%); open p99 {} vs {}; \
             similar (within ±10%): {}",
            last.keys,
            first.keys,
            ratio(last),
            ratio(first),
            (change - 1.0) * 100.0,
            micros(last.kw_open.quantile(0.99)),
            micros(first.kw_open.quantile(0.99)),
            verdict((change - 1.0).abs() <= 0.10)
        );
    }
}
