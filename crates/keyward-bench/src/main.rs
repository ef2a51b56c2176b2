//! `keyward-bench`: keyward's `keys.verifyKey` over HTTP/1.1 keep-alive on loopback, next to a
//! minimal axum baseline answering a JSON body of the same size, both driven by the same load
//! generator with the same connections in the same run. See docs/BENCHMARKS.md.
//!
//! Run it with `cargo run --release -p keyward-bench` (it builds keyward's release binary first,
//! with the same cargo and target directory) — `--help` lists the knobs.

mod baseline;
mod client;
mod load;
mod nodes;
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

use client::Conn;
use load::{PhaseResult, Plan, Target};
use procs::ChildGuard;

const ROOT_KEY: &str = "keyward_bench_root_key_do_not_use";
const VERIFY_PATH: &str = "/v2/keys.verifyKey";
const VALID_MARKER: &[u8] = br#""valid":true"#;
const LIMIT_PATH: &str = "/v2/ratelimit.limit";
const LIMIT_MARKER: &[u8] = br#""success":true"#;
/// A limit no phase reaches: every check and every limited verification is admitted, so each
/// request does the full work of a pass (a refusal would skip the credit spend).
const BENCH_LIMIT: i64 = 1_000_000_000_000;
/// The most credits a key may hold (keyward-types' `MAX_CREDITS`): no run spends them all.
const MAX_CREDITS: i64 = 9_007_199_254_740_991;

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
    /// Rounds per key count; each runs all four phases (alternating which server goes first), and
    /// the report gives the median over rounds.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
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
    /// Threads of the load generator, each an epoll loop over its share of the connections.
    #[arg(long, default_value_t = 1)]
    generator_threads: usize,
    /// Concurrent keys.createKey requests while creating keys.
    #[arg(long, default_value_t = 16)]
    create_concurrency: usize,
    /// Create keys as production keys often are: with a name, an `externalId` (1,000 identities
    /// shared among the keys) and a `meta` object of a few fields, all of which every VALID
    /// answer returns. The baseline answers a body of the same (larger) size.
    #[arg(long)]
    with_meta: bool,
    /// Keys with permissions to verify in each round too, beside the plain ones (0: none; the
    /// default is as many as `--keys`): each holds 3 roles of 10 permissions in all, and every
    /// verification asks a 3-term permission query of it. Reported as a ratio to plain
    /// verifyKey in the same round.
    #[arg(long)]
    rbac_keys: Option<usize>,
    /// keyward's cache TTL (`keyward serve --cache-ttl-secs`); the default is keyward's own.
    /// Past it, entries are refreshed in the background while hits keep being answered.
    #[arg(long, default_value_t = 600)]
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
    /// Run again against a directory that `--keep-data` kept for one key count: its database and
    /// the keys created in it (listed in its `bench-keys.jsonl`), instead of creating keys anew.
    /// `--keys` must name that one count. Saves the creation of a million keys (~10 minutes).
    #[arg(long, value_name = "DIR")]
    reuse_data: Option<PathBuf>,
    /// Run keyward under this command, for profiling, e.g.
    /// `--keyward-wrapper "valgrind --tool=callgrind --callgrind-out-file=/tmp/keyward.callgrind"`
    /// (words split on whitespace). The figures of such a run measure the wrapper, not keyward.
    #[arg(long)]
    keyward_wrapper: Option<String>,
    /// Run the baseline server under this command, like `--keyward-wrapper`.
    #[arg(long)]
    baseline_wrapper: Option<String>,
    /// Also run every key count on PostgreSQL, after SQLite, in the same run: keyward serves with
    /// `--database-url` naming this server's database, in a schema of its own (created, and
    /// dropped at the end; the URL's user must be allowed to create schemas there). Example:
    /// postgres://postgres@127.0.0.1:5432/postgres
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Keys with credits (a balance no run can spend) that the metered phase verifies, each
    /// verification spending one: the write path of every verification.
    #[arg(long, default_value_t = 1_000)]
    metered_keys: usize,
    /// Run only the multi-node phase: three keyward nodes over this PostgreSQL database (in a
    /// schema of its own, dropped at the end), reporting revocation propagation between nodes
    /// and verification throughput per node against a single node. Example:
    /// postgres://postgres@127.0.0.1:5432/postgres
    #[arg(long, value_name = "URL")]
    nodes: Option<String>,
    /// Revocations the multi-node phase measures (each seen by two other nodes).
    #[arg(long, default_value_t = 200)]
    revocations: usize,
    /// Identifiers the `ratelimit.limit` phase rotates over (one namespace, a 60 s window).
    #[arg(long, default_value_t = 10_000)]
    ratelimit_identifiers: usize,
}

/// `program args…`, or `wrapper words… program args…`.
fn wrapped(wrapper: Option<&str>, program: &Path) -> anyhow::Result<Command> {
    match wrapper.map(str::split_whitespace) {
        Some(mut words) => {
            let mut command = Command::new(words.next().context("a wrapper command is empty")?);
            command.args(words).arg(program);
            Ok(command)
        }
        None => Ok(Command::new(program)),
    }
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
            // Resolved once, so a relative CARGO_TARGET_DIR means the same directory to both.
            .env("CARGO_TARGET_DIR", &target_dir)
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
        // For setup only (creating keys, reading counters): the measured load runs on the
        // generator's own threads.
        .worker_threads(2)
        .enable_all()
        .build()?;
    if let Some(url) = args.nodes.clone() {
        return runtime.block_on(nodes::run(&args, &keyward, &url));
    }
    runtime.block_on(run_all(args, keyward))
}

/// One phase against one server.
struct Measured {
    result: PhaseResult,
    /// CPU time per request of the server and of the load generator. In the open loop a request
    /// costs more than in the closed loop (fewer requests per wake-up).
    server_cpu: Option<Duration>,
    generator_cpu: Option<Duration>,
}

/// One round: both servers closed-loop, then both open-loop at a fraction of this round's
/// baseline rate.
struct Round {
    base_closed: Measured,
    kw_closed: Measured,
    open_rate: f64,
    base_open: Measured,
    kw_open: Measured,
    /// keyward closed-loop on keys with credits: every verification is a database write.
    kw_metered: Measured,
    /// keyward closed-loop against keys with permissions, asked a permission query.
    kw_rbac: Option<Measured>,
    /// keyward closed-loop on `ratelimit.limit`: one namespace, many identifiers.
    kw_ratelimit: Measured,
    /// keyward closed-loop on keys with credits and one auto-applied rate limit.
    kw_limited: Measured,
}

impl Round {
    fn ratio(&self) -> f64 {
        self.kw_closed.result.rate() / self.base_closed.result.rate()
    }

    /// Metered verifications per plain (cached, unmetered) one in this round.
    fn metered_ratio(&self) -> f64 {
        self.kw_metered.result.rate() / self.kw_closed.result.rate()
    }

    /// `ratelimit.limit` checks per plain verification in this round.
    fn ratelimit_ratio(&self) -> f64 {
        self.kw_ratelimit.result.rate() / self.kw_closed.result.rate()
    }

    /// Verifications of keys with credits and an auto-applied limit per plain one.
    fn limited_ratio(&self) -> f64 {
        self.kw_limited.result.rate() / self.kw_closed.result.rate()
    }

    /// The same per metered verification (credits, no limit): what the limit itself costs.
    fn limited_metered_ratio(&self) -> f64 {
        self.kw_limited.result.rate() / self.kw_metered.result.rate()
    }

    /// Verifications with a permission query against plain ones, both keyward's, this round.
    fn rbac_ratio(&self) -> f64 {
        self.kw_rbac
            .as_ref()
            .map_or(f64::NAN, |r| r.result.rate() / self.kw_closed.result.rate())
    }

    /// The load generator's CPU time per request in the closed loops (their mean).
    fn generator_cpu(&self) -> Option<Duration> {
        let (base, kw) = (self.base_closed.generator_cpu, self.kw_closed.generator_cpu);
        base.zip(kw).map(|(a, b)| (a + b) / 2)
    }
}

/// The two servers a round measures.
struct Servers<'a> {
    keyward: &'a mut ChildGuard,
    keyward_target: Arc<Target>,
    /// keyward's metered keys.
    metered_target: Arc<Target>,
    /// keyward's keys with permissions, and their queries.
    rbac_target: Option<Arc<Target>>,
    /// `ratelimit.limit` checks.
    ratelimit_target: Arc<Target>,
    /// keyward's keys with credits and an auto-applied limit.
    limited_target: Arc<Target>,
    baseline_pid: u32,
    baseline_target: Arc<Target>,
}

/// What a phase runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Against {
    Baseline,
    Keyward,
    /// keyward, verifying keys with permissions with a permission query.
    KeywardRbac,
    /// keyward, verifying keys with credits: every verification spends one.
    KeywardMetered,
    /// keyward, `ratelimit.limit`.
    KeywardRatelimit,
    /// keyward, verifying keys with credits and an auto-applied rate limit.
    KeywardLimited,
}

impl Servers<'_> {
    /// Runs `plan` against both servers, keyward first or second; returns (baseline, keyward).
    async fn run_both(
        &mut self,
        plan: Plan,
        label: &str,
        keyward_first: bool,
        args: &BenchArgs,
    ) -> anyhow::Result<(Measured, Measured)> {
        use Against::{Baseline, Keyward};
        Ok(if keyward_first {
            let keyward = self.run_one(Keyward, plan, label, args).await?;
            (self.run_one(Baseline, plan, label, args).await?, keyward)
        } else {
            let baseline = self.run_one(Baseline, plan, label, args).await?;
            (baseline, self.run_one(Keyward, plan, label, args).await?)
        })
    }

    /// Runs one phase against one server, checks it, and reports it.
    async fn run_one(
        &mut self,
        against: Against,
        plan: Plan,
        label: &str,
        args: &BenchArgs,
    ) -> anyhow::Result<Measured> {
        let keyward = against != Against::Baseline;
        let (target, pid, name) = match against {
            Against::Keyward => (self.keyward_target.clone(), self.keyward.pid(), "keyward"),
            Against::KeywardRbac => (
                self.rbac_target
                    .clone()
                    .context("no keys with permissions were created")?,
                self.keyward.pid(),
                "keyward with a permission query",
            ),
            Against::KeywardMetered => (self.metered_target.clone(), self.keyward.pid(), "keyward"),
            Against::KeywardRatelimit => (
                self.ratelimit_target.clone(),
                self.keyward.pid(),
                "keyward ratelimit.limit",
            ),
            Against::KeywardLimited => (
                self.limited_target.clone(),
                self.keyward.pid(),
                "keyward with a rate limit",
            ),
            Against::Baseline => (self.baseline_target.clone(), self.baseline_pid, "baseline"),
        };
        let (result, server_cpu, generator_cpu) =
            measure(pid, || run_phase(target, plan, args)).await?;
        let phase = format!("{name} {label}");
        let checked = check(&phase, &result);
        if keyward {
            checked.map_err(|e| e.context(self.keyward.status_report()))?;
        } else {
            checked?;
        }
        report_phase(&phase, &result);
        let requests = u32::try_from(result.all_requests.max(1)).unwrap_or(u32::MAX);
        Ok(Measured {
            server_cpu: server_cpu.map(|cpu| cpu / requests),
            generator_cpu: generator_cpu.map(|cpu| cpu / requests),
            result,
        })
    }
}

/// Figures of one key count on one backend.
struct Section {
    keys: usize,
    backend: Backend,
    /// How long creating the metered keys took.
    metered_seed_time: Duration,
    /// How long creating the keys took; `None` when they were reused (`--reuse-data`).
    seed_time: Option<Duration>,
    warm: PhaseResult,
    rounds: Vec<Round>,
    /// keyward's counters over the rounds: key-cache misses (0 = every lookup was a hit) and
    /// its own verifyKey duration histogram.
    server: ServerCounters,
    /// keyward's resident memory once every key is cached (after the cold pass).
    resident: Option<u64>,
}

impl Section {
    /// `10000 on SQLite`: the row label of the report's tables.
    fn label(&self) -> String {
        format!("{} on {}", self.keys, self.backend.name())
    }

    /// The median over the rounds of `figure` (the lower middle one for an even count).
    fn median(&self, figure: impl Fn(&Round) -> f64) -> f64 {
        let mut values: Vec<f64> = self.rounds.iter().map(figure).collect();
        values.sort_by(f64::total_cmp);
        values
            .get((values.len().max(1) - 1) / 2)
            .copied()
            .unwrap_or(f64::NAN)
    }

    fn median_micros(&self, figure: impl Fn(&Round) -> Duration) -> String {
        micros(Duration::from_secs_f64(
            self.median(|r| figure(r).as_secs_f64()),
        ))
    }

    fn median_cpu(&self, figure: impl Fn(&Round) -> Option<Duration>) -> String {
        if self.rounds.iter().any(|r| figure(r).is_none()) {
            return "?".into();
        }
        let us = self.median(|r| figure(r).map_or(f64::NAN, |d| d.as_secs_f64() * 1e6));
        format!("{us:.1} µs")
    }
}

/// The database a section runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// A schema of its own in the `--database-url` database for one section, dropped on drop.
struct PgSchema {
    admin_url: String,
    name: String,
}

impl PgSchema {
    async fn create(admin_url: &str, keys: usize) -> anyhow::Result<PgSchema> {
        use sqlx::Connection;
        let name = format!("kwbench_{}_{keys}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .context("cannot connect to --database-url")?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "drop schema if exists \"{name}\" cascade; create schema \"{name}\""
        )))
        .execute(&mut conn)
        .await
        .context("cannot create the bench's schema in --database-url")?;
        Ok(PgSchema {
            admin_url: admin_url.to_owned(),
            name,
        })
    }

    /// `--database-url` for keyward: the database, with this schema as its search path.
    fn url(&self) -> String {
        let separator = if self.admin_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{separator}options[search_path]={}",
            self.admin_url, self.name
        )
    }

    async fn drop_schema(self) -> anyhow::Result<()> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.admin_url).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "drop schema if exists \"{}\" cascade",
            self.name
        )))
        .execute(&mut conn)
        .await?;
        Ok(())
    }
}

async fn run_all(args: BenchArgs, keyward: PathBuf) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let mut baseline: Option<ChildGuard> = None;
    let mut sections = Vec::new();
    let started = Instant::now();
    let mut kept = Vec::new();
    // Holds the baseline's log; each key count's own directory holds keyward's database and log.
    let run_dir = tempfile::Builder::new()
        .prefix("keyward-bench-")
        .tempdir()?;

    anyhow::ensure!(
        args.reuse_data.is_none() || args.keys.len() == 1,
        "--reuse-data runs one key count: give --keys the count that directory holds"
    );
    anyhow::ensure!(
        args.reuse_data.is_none() || args.database_url.is_none(),
        "--reuse-data reuses a SQLite database: it cannot be combined with --database-url"
    );
    anyhow::ensure!(args.metered_keys > 0, "--metered-keys must be positive");
    let backends: &[Backend] = match args.database_url {
        Some(_) => &[Backend::Sqlite, Backend::Postgres],
        None => &[Backend::Sqlite],
    };
    let plan: Vec<(usize, Backend)> = args
        .keys
        .iter()
        .flat_map(|&keys| backends.iter().map(move |&backend| (keys, backend)))
        .collect();
    for (keys, backend) in plan {
        let schema = match (backend, &args.database_url) {
            (Backend::Postgres, Some(url)) => Some(PgSchema::create(url, keys).await?),
            _ => None,
        };
        let dir = match &args.reuse_data {
            Some(dir) => DataDir::Reused(dir.clone()),
            None => DataDir::Fresh(
                tempfile::Builder::new()
                    .prefix("keyward-bench-")
                    .tempdir()?,
            ),
        };
        eprintln!(
            "\n== {keys} keys on {} (data in {}) ==",
            backend.name(),
            dir.path().display()
        );

        let mut command = wrapped(args.keyward_wrapper.as_deref(), &keyward)?;
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--cache-ttl-secs", &args.cache_ttl_secs.to_string()])
            .env("KEYWARD_BOOTSTRAP_ROOT_KEY", ROOT_KEY)
            .env("RUST_LOG", "info")
            .env_remove("KEYWARD_DATABASE_URL")
            .env_remove("KEYWARD_CACHE_CAPACITY");
        if let Some(schema) = &schema {
            command.arg("--database-url").arg(schema.url());
        }
        let mut server = ChildGuard::spawn("keyward", command, &dir.path().join("keyward.log"))
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

        let bearer = format!("Bearer {ROOT_KEY}");
        let auth = HeaderValue::from_str(&bearer)?;
        let keys_file = dir.path().join(KEYS_FILE);
        let (bodies, seed_time) = match dir {
            DataDir::Reused(_) => {
                let bodies = read_bodies(&keys_file)?;
                anyhow::ensure!(
                    bodies.len() == keys,
                    "{} lists {} keys, not the {keys} of --keys",
                    keys_file.display(),
                    bodies.len()
                );
                eprintln!("reusing the {keys} keys of {}", keys_file.display());
                (bodies, None)
            }
            DataDir::Fresh(_) => {
                let started = Instant::now();
                let shape = KeyShape {
                    with_meta: args.with_meta,
                    roles: None,
                    credits: None,
                    ratelimit: false,
                };
                let bodies =
                    create_keys(server.addr, &auth, keys, args.create_concurrency, &shape).await?;
                let took = started.elapsed();
                eprintln!(
                    "created {keys} keys through keys.createKey in {:.1} s ({:.0} keys/s, {} connections)",
                    took.as_secs_f64(),
                    keys as f64 / took.as_secs_f64(),
                    args.create_concurrency
                );
                if args.keep_data {
                    write_bodies(&keys_file, &bodies)?;
                }
                (bodies, Some(took))
            }
        };

        let started = Instant::now();
        let metered_shape = KeyShape {
            with_meta: args.with_meta,
            roles: None,
            credits: Some(MAX_CREDITS),
            ratelimit: false,
        };
        let metered = create_keys(
            server.addr,
            &auth,
            args.metered_keys,
            args.create_concurrency,
            &metered_shape,
        )
        .await?;
        let metered_seed_time = started.elapsed();
        eprintln!(
            "created {} metered keys in {:.1} s",
            args.metered_keys,
            metered_seed_time.as_secs_f64()
        );
        let limited_shape = KeyShape {
            with_meta: args.with_meta,
            roles: None,
            credits: Some(MAX_CREDITS),
            ratelimit: true,
        };
        let limited = create_keys(
            server.addr,
            &auth,
            args.metered_keys,
            args.create_concurrency,
            &limited_shape,
        )
        .await?;
        let ratelimit_bodies: Vec<Bytes> = (0..args.ratelimit_identifiers.max(1))
            .map(|i| {
                Bytes::from(
                    serde_json::json!({
                        "namespace": "bench",
                        "identifier": format!("user_{i}"),
                        "limit": BENCH_LIMIT,
                        "duration": 60_000,
                    })
                    .to_string(),
                )
            })
            .collect();

        // One checked sample: its body is what the baseline answers, byte for byte in size.
        let mut conn = Conn::open(server.addr).await?;
        let (status, sample) = conn
            .post(VERIFY_PATH, Some(&auth), bodies[0].clone())
            .await?;
        if status != 200 || !client::contains(&sample, VALID_MARKER) {
            bail!(
                "a verification of a fresh key failed: HTTP {status} {}",
                String::from_utf8_lossy(&sample)
            );
        }
        let sample = String::from_utf8(sample.to_vec())?;
        if baseline.is_none() {
            let mut command = wrapped(args.baseline_wrapper.as_deref(), &exe)?;
            command.args([
                "baseline-server",
                "--listen",
                "127.0.0.1:0",
                "--body",
                &sample,
            ]);
            let log = run_dir.path().join("baseline.log");
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
        let target = |addr, bodies: &Arc<[Bytes]>| {
            Arc::new(Target {
                addr,
                path: VERIFY_PATH,
                authorization: Some(bearer.clone()),
                bodies: bodies.clone(),
                expect: VALID_MARKER,
            })
        };
        let (kw_target, base_target) = (target(server.addr, &bodies), target(base.addr, &bodies));
        let metered_target = target(server.addr, &metered.into());
        let limited_target = target(server.addr, &limited.into());
        let ratelimit_target = Arc::new(Target {
            addr: server.addr,
            path: LIMIT_PATH,
            authorization: Some(bearer.clone()),
            bodies: ratelimit_bodies.into(),
            expect: LIMIT_MARKER,
        });
        // The namespace is created by the first check; the limited keys are cached by their first
        // verification, as the plain ones are by the warm-up pass below.
        for (name, target) in [
            ("ratelimit.limit", &ratelimit_target),
            ("keys with a rate limit", &limited_target),
        ] {
            let warm = run_phase(target.clone(), Plan::EachOnce, &args).await?;
            check(&format!("warm-up pass of {name}"), &warm)
                .map_err(|e| e.context(server.status_report()))?;
        }

        // Warm the cache: every key once (each a cache miss and a database read).
        let warm = run_phase(kw_target.clone(), Plan::EachOnce, &args).await?;
        check("warm-up pass", &warm).map_err(|e| e.context(server.status_report()))?;
        eprintln!(
            "warm-up: verified each key once in {:.1} s ({:.0} req/s, cache misses)",
            warm.window.as_secs_f64(),
            warm.rate()
        );

        let rbac_keys = args.rbac_keys.unwrap_or(keys);
        let rbac_target = if rbac_keys == 0 {
            None
        } else {
            let started = Instant::now();
            let roles = create_roles(server.addr, &auth).await?;
            let shape = KeyShape {
                with_meta: args.with_meta,
                roles: Some(roles),
                credits: None,
                ratelimit: false,
            };
            let bodies = create_keys(
                server.addr,
                &auth,
                rbac_keys,
                args.create_concurrency,
                &shape,
            )
            .await?;
            eprintln!(
                "created {rbac_keys} keys with 3 roles (10 permissions) in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            let target = Arc::new(Target {
                addr: server.addr,
                path: VERIFY_PATH,
                authorization: Some(bearer.clone()),
                bodies: bodies.into(),
                expect: VALID_MARKER,
            });
            let warm = run_phase(target.clone(), Plan::EachOnce, &args).await?;
            check("warm-up pass of the keys with permissions", &warm)
                .map_err(|e| e.context(server.status_report()))?;
            Some(target)
        };

        let resident = procs::resident_bytes(server.pid());
        let counters_before = ServerCounters::read(server.addr).await;
        let warmup = Duration::from_secs(args.warmup);
        let duration = Duration::from_secs(args.duration);
        let mut servers = Servers {
            keyward: &mut server,
            keyward_target: kw_target,
            metered_target,
            rbac_target,
            ratelimit_target,
            limited_target,
            baseline_pid: base.pid(),
            baseline_target: base_target,
        };
        let mut rounds = Vec::new();
        for round in 1..=args.rounds {
            eprintln!("round {round}/{}", args.rounds);
            // Alternate which server goes first, so neither always runs on a "fresher" machine.
            let keyward_first = round % 2 == 0;
            let offset = round * keys / (args.rounds + 1);
            let closed = Plan::Closed {
                warmup,
                duration,
                offset,
            };
            // With permissions, right before or after the plain closed loops (alternating too).
            let rbac_closed = Plan::Closed {
                warmup,
                duration,
                offset: offset % rbac_keys.max(1),
            };
            let rbac_label = "closed loop, 3 roles, 3-term query";
            let mut kw_rbac = None;
            if servers.rbac_target.is_some() && keyward_first {
                kw_rbac = Some(
                    servers
                        .run_one(Against::KeywardRbac, rbac_closed, rbac_label, &args)
                        .await?,
                );
            }
            let (base_closed, kw_closed) = servers
                .run_both(closed, "closed loop", keyward_first, &args)
                .await?;
            if servers.rbac_target.is_some() && !keyward_first {
                kw_rbac = Some(
                    servers
                        .run_one(Against::KeywardRbac, rbac_closed, rbac_label, &args)
                        .await?,
                );
            }
            let open_rate = base_closed.result.rate() * args.open_fraction;
            let open = Plan::Open {
                rate: open_rate,
                warmup,
                duration,
                // Starting half the keys away from where the closed loop started.
                offset: (offset + keys / 2) % keys,
            };
            let label = format!("open loop @ {open_rate:.0}/s");
            let (base_open, kw_open) = servers.run_both(open, &label, keyward_first, &args).await?;
            let metered = Plan::Closed {
                warmup,
                duration,
                offset: round * args.metered_keys / (args.rounds + 1),
            };
            let kw_metered = servers
                .run_one(
                    Against::KeywardMetered,
                    metered,
                    "metered closed loop",
                    &args,
                )
                .await?;
            let kw_ratelimit = servers
                .run_one(
                    Against::KeywardRatelimit,
                    Plan::Closed {
                        warmup,
                        duration,
                        offset: round * args.ratelimit_identifiers / (args.rounds + 1),
                    },
                    "closed loop",
                    &args,
                )
                .await?;
            let kw_limited = servers
                .run_one(
                    Against::KeywardLimited,
                    Plan::Closed {
                        warmup,
                        duration,
                        offset: round * args.metered_keys / (args.rounds + 1),
                    },
                    "metered closed loop, one auto-applied limit",
                    &args,
                )
                .await?;
            let round = Round {
                base_closed,
                kw_closed,
                open_rate,
                base_open,
                kw_open,
                kw_metered,
                kw_rbac,
                kw_ratelimit,
                kw_limited,
            };
            eprintln!(
                "round ratios keyward/baseline: {:.2}, metered/plain: {:.2}, ratelimit.limit/plain: {:.2}, \
                 limited+metered/plain: {:.2} (/metered: {:.2})",
                round.ratio(),
                round.metered_ratio(),
                round.ratelimit_ratio(),
                round.limited_ratio(),
                round.limited_metered_ratio()
            );
            if round.kw_rbac.is_some() {
                eprintln!(
                    "round ratio with permission query/plain: {:.2}",
                    round.rbac_ratio()
                );
            }
            rounds.push(round);
        }
        let counters_after = ServerCounters::read(server.addr).await;
        sections.push(Section {
            keys,
            backend,
            metered_seed_time,
            seed_time,
            warm,
            rounds,
            server: counters_after.since(&counters_before),
            resident,
        });

        drop(server);
        if let Some(schema) = schema {
            schema.drop_schema().await?;
        }
        if let (DataDir::Fresh(dir), true) = (dir, args.keep_data) {
            kept.push(dir.keep());
        }
    }
    drop(baseline);
    if args.keep_data {
        kept.push(run_dir.keep());
    }

    print_report(&args, &sections, started.elapsed());
    for dir in kept {
        eprintln!("kept {}", dir.display());
    }
    Ok(())
}

/// Where a key count's database and logs live.
enum DataDir {
    /// A temporary directory, removed at the end unless `--keep-data`.
    Fresh(tempfile::TempDir),
    /// A directory kept by an earlier run (`--reuse-data`).
    Reused(PathBuf),
}

impl DataDir {
    fn path(&self) -> &Path {
        match self {
            DataDir::Fresh(dir) => dir.path(),
            DataDir::Reused(dir) => dir,
        }
    }
}

/// The verifyKey bodies of the keys a kept directory holds, one JSON document per line. They are
/// plaintext test keys of a throwaway database, written only with `--keep-data`.
const KEYS_FILE: &str = "bench-keys.jsonl";

fn write_bodies(path: &Path, bodies: &[Bytes]) -> anyhow::Result<()> {
    let mut text = Vec::with_capacity(bodies.iter().map(|b| b.len() + 1).sum());
    for body in bodies {
        text.extend_from_slice(body);
        text.push(b'\n');
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn read_bodies(path: &Path) -> anyhow::Result<Vec<Bytes>> {
    let text = std::fs::read(path).with_context(|| {
        format!(
            "cannot read {}: is it a directory kept by --keep-data?",
            path.display()
        )
    })?;
    Ok(text
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(Bytes::copy_from_slice)
        .collect())
}

/// Runs one phase of the load generator (on its own threads, off the runtime).
async fn run_phase(
    target: Arc<Target>,
    plan: Plan,
    args: &BenchArgs,
) -> anyhow::Result<PhaseResult> {
    let (connections, threads) = (args.connections, args.generator_threads);
    tokio::task::spawn_blocking(move || load::run(&target, plan, connections, threads)).await?
}

/// Runs a phase and returns it with the CPU time used meanwhile by the server `pid` and by this
/// process (the load generator).
async fn measure<F, Fut>(
    pid: u32,
    phase: F,
) -> anyhow::Result<(PhaseResult, Option<Duration>, Option<Duration>)>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<PhaseResult>>,
{
    let me = std::process::id();
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
    if !r.generator_lags.is_empty() {
        eprintln!(
            "  the generator's own lateness in sending: p99 {}, max {}",
            micros(r.generator_lag(0.99)),
            micros(r.generator_lag(1.0))
        );
    }
    if let Some(tail) = r.tail() {
        eprintln!("  {tail}");
    }
}

fn micros(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// What keyward's `/metrics` says about the bench: key-cache misses, and its own histogram of
/// verifyKey durations (time inside keyward's request handling, without the kernel's TCP work).
#[derive(Default)]
struct ServerCounters {
    cache_misses: Option<u64>,
    /// Cumulative `(upper bound in seconds, count)` buckets, `+Inf` as infinity.
    verify_buckets: Vec<(f64, u64)>,
}

impl ServerCounters {
    async fn read(addr: SocketAddr) -> ServerCounters {
        Self::fetch(addr).await.unwrap_or_default()
    }

    async fn fetch(addr: SocketAddr) -> Option<ServerCounters> {
        let mut conn = Conn::open(addr).await.ok()?;
        let (status, body) = conn
            .request(Method::GET, "/metrics", None, Bytes::new())
            .await
            .ok()?;
        if status != 200 {
            return None;
        }
        let text = String::from_utf8(body.to_vec()).ok()?;
        let cache_misses = text
            .lines()
            .find_map(|line| line.strip_prefix(r#"keyward_cache_misses_total{cache="keys"} "#))
            .and_then(|n| n.trim().parse().ok());
        let prefix =
            r#"keyward_http_request_duration_seconds_bucket{route="/v2/keys.verifyKey",le=""#;
        let verify_buckets = text
            .lines()
            .filter_map(|line| line.strip_prefix(prefix))
            .filter_map(|rest| {
                let (bound, count) = rest.split_once("\"} ")?;
                let bound = if bound == "+Inf" {
                    f64::INFINITY
                } else {
                    bound.parse().ok()?
                };
                Some((bound, count.trim().parse().ok()?))
            })
            .collect();
        Some(ServerCounters {
            cache_misses,
            verify_buckets,
        })
    }

    /// The counters' growth from `before` to `self`.
    fn since(&self, before: &ServerCounters) -> ServerCounters {
        ServerCounters {
            cache_misses: self
                .cache_misses
                .zip(before.cache_misses)
                .map(|(a, b)| a.saturating_sub(b)),
            verify_buckets: self
                .verify_buckets
                .iter()
                .map(|&(bound, n)| {
                    let earlier = before
                        .verify_buckets
                        .iter()
                        .find(|(b, _)| *b == bound)
                        .map_or(0, |(_, n)| *n);
                    (bound, n.saturating_sub(earlier))
                })
                .collect(),
        }
    }

    /// The histogram bucket holding the `q` quantile of verifyKey durations: "≤ 100 µs".
    fn verify_quantile(&self, q: f64) -> String {
        let Some(&(_, total)) = self.verify_buckets.last() else {
            return "?".into();
        };
        let rank = (q * total as f64).ceil() as u64;
        match self.verify_buckets.iter().find(|(_, n)| *n >= rank.max(1)) {
            Some((bound, _)) if bound.is_finite() => {
                format!("≤ {}", micros(Duration::from_secs_f64(*bound)))
            }
            Some(_) => "> 10 s".into(),
            None => "?".into(),
        }
    }
}

/// What the benchmark's keys hold.
struct KeyShape {
    /// A name, an externalId and meta (`--with-meta`).
    with_meta: bool,
    /// Roles to give every key, each of whose verifications then asks [`RBAC_QUERY`].
    roles: Option<Vec<String>>,
    /// Credits to give every key, each of whose verifications then spends one.
    credits: Option<i64>,
    /// Give every key one auto-applied rate limit ([`BENCH_LIMIT`] per minute).
    ratelimit: bool,
}

/// The permissions of the benchmark's 3 roles: 10 in all.
const RBAC_ROLES: [(&str, &[&str]); 3] = [
    (
        "bench-reader",
        &["docs.read", "docs.list", "comments.read", "users.read"],
    ),
    (
        "bench-writer",
        &["docs.write", "docs.delete", "comments.write"],
    ),
    (
        "bench-admin",
        &["users.write", "billing.read", "audit.read"],
    ),
];

/// A 3-term query the keys of [`RBAC_ROLES`] satisfy.
const RBAC_QUERY: &str = "docs.read AND (docs.write OR billing.read)";

/// Creates [`RBAC_ROLES`] through the HTTP API; returns their names.
async fn create_roles(addr: SocketAddr, auth: &HeaderValue) -> anyhow::Result<Vec<String>> {
    let mut conn = Conn::open(addr).await?;
    let mut names = Vec::new();
    for (name, permissions) in RBAC_ROLES {
        let body = serde_json::json!({"name": name, "permissions": permissions});
        let (status, answer) = conn
            .post(
                "/v2/permissions.createRole",
                Some(auth),
                Bytes::from(body.to_string()),
            )
            .await?;
        anyhow::ensure!(
            status == 200,
            "permissions.createRole failed: HTTP {status} {}",
            String::from_utf8_lossy(&answer)
        );
        names.push(name.to_owned());
    }
    Ok(names)
}

/// Creates an API and `count` keys of `shape` through the HTTP API; returns one verifyKey body
/// per key.
async fn create_keys(
    addr: SocketAddr,
    auth: &HeaderValue,
    count: usize,
    concurrency: usize,
    shape: &KeyShape,
) -> anyhow::Result<Vec<Bytes>> {
    let (with_meta, roles, credits) = (shape.with_meta, shape.roles.clone(), shape.credits);
    let ratelimit = shape.ratelimit;
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
    let request = move |i: usize| {
        let mut body = if with_meta {
            serde_json::json!({
                "apiId": api_id,
                "name": format!("production key {i}"),
                "externalId": format!("customer_{}", i % 1000),
                "meta": {
                    "plan": "pro",
                    "region": "eu-west-1",
                    "customerId": format!("cus_{i:08}"),
                    "features": ["analytics", "exports"],
                    "limits": {"requestsPerMinute": 600},
                },
            })
        } else {
            serde_json::json!({ "apiId": api_id })
        };
        if let Some(remaining) = credits {
            body["credits"] = serde_json::json!({ "remaining": remaining });
        }
        if let Some(roles) = &roles {
            body["roles"] = serde_json::json!(roles);
        }
        if ratelimit {
            body["ratelimits"] = serde_json::json!([
                {"name": "requests", "limit": BENCH_LIMIT, "duration": 60_000, "autoApply": true}
            ]);
        }
        Bytes::from(body.to_string())
    };
    let query = shape.roles.as_ref().map(|_| RBAC_QUERY);
    let verify = move |key: &str| {
        let body = match query {
            Some(query) => serde_json::json!({ "key": key, "permissions": query }),
            None => serde_json::json!({ "key": key }),
        };
        Bytes::from(body.to_string())
    };

    let done = Arc::new(AtomicUsize::new(0));
    let progress = {
        let done = done.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(15)).await;
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
        let (auth, request, verify, done) = (auth.clone(), request.clone(), verify, done.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut keys = Vec::new();
            for i in (c..count).step_by(concurrency) {
                let (status, body) = conn
                    .post("/v2/keys.createKey", Some(&auth), request(i))
                    .await?;
                let value: serde_json::Value = serde_json::from_slice(&body)?;
                let Some(key) = value["data"]["key"].as_str().filter(|_| status == 200) else {
                    bail!("keys.createKey failed: HTTP {status} {value}");
                };
                keys.push((i, verify(key)));
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

/// An open-loop phase's requests over the p99 bound, for the per-round table.
fn tail_cell(result: &PhaseResult) -> String {
    result.tail().map_or_else(
        || "none".into(),
        |t| format!("{:.2}%, {} stalls", t.share * 100.0, t.stalls),
    )
}

fn verdict(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}

fn print_report(args: &BenchArgs, sections: &[Section], elapsed: Duration) {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!();
    println!(
        "keyward-bench: {} connections, HTTP/1.1 keep-alive on loopback, {} s measured per phase after {} s \
         warm-up, {} round(s) (figures are medians over rounds), open loop at {:.0}% of the baseline's \
         closed-loop rate; {cpus} CPUs; load generator on {} thread(s); keyward cache TTL {} s; keys {}; whole run {:.0} s",
        args.connections,
        args.duration,
        args.warmup,
        args.rounds,
        args.open_fraction * 100.0,
        args.generator_threads,
        args.cache_ttl_secs,
        if args.with_meta {
            "with name, externalId and meta (--with-meta)"
        } else {
            "bare (apiId only)"
        },
        elapsed.as_secs_f64()
    );
    println!();
    println!(
        "| keys | server | closed req/s | closed p50 | closed p99 | open rate/s | open p50 | open p99 | open p99.9 | server CPU/req | open: server + generator CPU/req, CPUs busy |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for s in sections {
        type Pick = fn(&Round) -> &Measured;
        let rows: [(&str, Pick, Pick); 2] = [
            ("baseline", |r| &r.base_closed, |r| &r.base_open),
            ("keyward", |r| &r.kw_closed, |r| &r.kw_open),
        ];
        for (name, closed, open) in rows {
            let server_open = s.median_cpu(|r| open(r).server_cpu);
            let generator_open = s.median_cpu(|r| open(r).generator_cpu);
            // The share of the machine's CPUs that server and generator kept busy at that rate.
            let busy = s.median(|r| {
                let open = open(r);
                open.server_cpu
                    .zip(open.generator_cpu)
                    .map_or(f64::NAN, |(server, generator)| {
                        (server + generator).as_secs_f64() * open.result.rate() / cpus.max(1) as f64
                    })
            });
            println!(
                "| {} | {name} | {:.0} | {} | {} | {:.0} | {} | {} | {} | {} | {server_open} + {generator_open}, {:.0}% |",
                s.label(),
                s.median(|r| closed(r).result.rate()),
                s.median_micros(|r| closed(r).result.quantile(0.5)),
                s.median_micros(|r| closed(r).result.quantile(0.99)),
                s.median(|r| open(r).result.rate()),
                s.median_micros(|r| open(r).result.quantile(0.5)),
                s.median_micros(|r| open(r).result.quantile(0.99)),
                s.median_micros(|r| open(r).result.quantile(0.999)),
                s.median_cpu(|r| closed(r).server_cpu),
                busy * 100.0,
            );
        }
    }
    println!();
    println!(
        "| keys | keyward/baseline req/s (rounds) | ≥ 0.8 | keyward open p99 < 1 ms | baseline open p99 | keyward in-server p99 / p99.9 | key creation | cold pass | keyward memory, all keys cached | cache misses while measuring | generator CPU/req |"
    );
    println!("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for s in sections {
        let ratio = s.median(Round::ratio);
        let rounds: Vec<String> = s
            .rounds
            .iter()
            .map(|r| format!("{:.2}", r.ratio()))
            .collect();
        let p99 =
            Duration::from_secs_f64(s.median(|r| r.kw_open.result.quantile(0.99).as_secs_f64()));
        let all_sent = s.rounds.iter().all(|r| r.kw_open.result.ok());
        println!(
            "| {} | {ratio:.2} ({}) | {} | {} ({}) | {} | {} / {} | {} | {:.0} req/s | {} | {} | {} |",
            s.label(),
            rounds.join(", "),
            verdict(ratio >= 0.8),
            verdict(p99 < Duration::from_millis(1) && all_sent),
            micros(p99),
            s.median_micros(|r| r.base_open.result.quantile(0.99)),
            s.server.verify_quantile(0.99),
            s.server.verify_quantile(0.999),
            s.seed_time.map_or_else(
                || "reused".into(),
                |t| format!(
                    "{:.0} s ({:.0}/s)",
                    t.as_secs_f64(),
                    s.keys as f64 / t.as_secs_f64()
                )
            ),
            s.warm.rate(),
            s.resident
                .map_or_else(|| "?".into(), |b| format!("{} MiB", b / (1024 * 1024))),
            s.server
                .cache_misses
                .map_or_else(|| "?".into(), |m| m.to_string()),
            s.median_cpu(Round::generator_cpu),
        );
    }
    if sections
        .iter()
        .any(|s| s.rounds.iter().any(|r| r.kw_rbac.is_some()))
    {
        println!();
        println!(
            "Keys with 3 roles (10 permissions), each verification asking `{RBAC_QUERY}`, against plain keys, keyward closed loop:"
        );
        println!();
        println!(
            "| keys | plain req/s | with query req/s | ratio (rounds) | ≥ 0.9 | with query p50 / p99 |"
        );
        println!("|---:|---:|---:|---:|---|---:|");
        for s in sections
            .iter()
            .filter(|s| s.rounds.iter().all(|r| r.kw_rbac.is_some()))
        {
            let rbac = |r: &Round| r.kw_rbac.as_ref().expect("filtered").result.rate();
            let ratio = s.median(Round::rbac_ratio);
            let rounds: Vec<String> = s
                .rounds
                .iter()
                .map(|r| format!("{:.2}", r.rbac_ratio()))
                .collect();
            println!(
                "| {} | {:.0} | {:.0} | {ratio:.2} ({}) | {} | {} / {} |",
                s.label(),
                s.median(|r| r.kw_closed.result.rate()),
                s.median(rbac),
                rounds.join(", "),
                verdict(ratio >= 0.9),
                s.median_micros(|r| r.kw_rbac.as_ref().expect("filtered").result.quantile(0.5)),
                s.median_micros(|r| r.kw_rbac.as_ref().expect("filtered").result.quantile(0.99)),
            );
        }
    }
    println!();
    println!(
        "| keys | round | baseline req/s | keyward req/s | ratio | open rate/s | baseline open p99 | keyward open p99 | baseline open > 1 ms | keyward open > 1 ms |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for s in sections {
        for (i, r) in s.rounds.iter().enumerate() {
            println!(
                "| {} | {} | {:.0} | {:.0} | {:.2} | {:.0} | {} | {} | {} | {} |",
                s.label(),
                i + 1,
                r.base_closed.result.rate(),
                r.kw_closed.result.rate(),
                r.ratio(),
                r.open_rate,
                micros(r.base_open.result.quantile(0.99)),
                micros(r.kw_open.result.quantile(0.99)),
                tail_cell(&r.base_open.result),
                tail_cell(&r.kw_open.result),
            );
        }
    }
    println!();
    println!(
        "| keys | verifyKey (cached) req/s | metered verifyKey req/s | metered / plain (rounds) | createKey keys/s | cold pass (cache misses) req/s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for s in sections {
        let rounds: Vec<String> = s
            .rounds
            .iter()
            .map(|r| format!("{:.2}", r.metered_ratio()))
            .collect();
        println!(
            "| {} | {:.0} | {:.0} | {:.2} ({}) | {} | {:.0} |",
            s.label(),
            s.median(|r| r.kw_closed.result.rate()),
            s.median(|r| r.kw_metered.result.rate()),
            s.median(Round::metered_ratio),
            rounds.join(", "),
            s.seed_time.map_or_else(
                || format!(
                    "{:.0} (metered keys only)",
                    args.metered_keys as f64 / s.metered_seed_time.as_secs_f64()
                ),
                |t| format!("{:.0}", s.keys as f64 / t.as_secs_f64())
            ),
            s.warm.rate(),
        );
    }
    println!();
    println!(
        "| keys | verifyKey (cached) req/s | ratelimit.limit req/s | ratelimit.limit / plain (rounds) | ≥ 0.8 | limit + credits verifyKey req/s | limit + credits / plain | limit + credits / credits only | server CPU/req: plain, ratelimit.limit, credits, limit + credits |"
    );
    println!("|---:|---:|---:|---:|:---:|---:|---:|---:|---:|");
    for s in sections {
        let rounds: Vec<String> = s
            .rounds
            .iter()
            .map(|r| format!("{:.2}", r.ratelimit_ratio()))
            .collect();
        let ratio = s.median(Round::ratelimit_ratio);
        println!(
            "| {} | {:.0} | {:.0} | {ratio:.2} ({}) | {} | {:.0} | {:.2} | {:.2} | {}, {}, {}, {} |",
            s.label(),
            s.median(|r| r.kw_closed.result.rate()),
            s.median(|r| r.kw_ratelimit.result.rate()),
            rounds.join(", "),
            verdict(ratio >= 0.8),
            s.median(|r| r.kw_limited.result.rate()),
            s.median(Round::limited_ratio),
            s.median(Round::limited_metered_ratio),
            // CPU per request is what the limiter costs the server; a shared machine moves the
            // rates of phases run one after the other more than it moves this.
            s.median_cpu(|r| r.kw_closed.server_cpu),
            s.median_cpu(|r| r.kw_ratelimit.server_cpu),
            s.median_cpu(|r| r.kw_metered.server_cpu),
            s.median_cpu(|r| r.kw_limited.server_cpu),
        );
    }
    for pair in sections.windows(2) {
        let [sqlite, postgres] = pair else { continue };
        if sqlite.backend != Backend::Sqlite
            || postgres.backend != Backend::Postgres
            || sqlite.keys != postgres.keys
        {
            continue;
        }
        let ratio = |figure: fn(&Round) -> f64| postgres.median(figure) / sqlite.median(figure);
        let cached = ratio(|r| r.kw_closed.result.rate());
        println!();
        println!(
            "PostgreSQL / SQLite at {} keys, same run: verifyKey (cache hit) {cached:.2} (≥ 0.95: {}); \
             metered verifyKey {:.2}; createKey {}; cold pass {:.2}",
            sqlite.keys,
            verdict(cached >= 0.95),
            ratio(|r| r.kw_metered.result.rate()),
            match (sqlite.seed_time, postgres.seed_time) {
                (Some(a), Some(b)) => format!("{:.2}", a.as_secs_f64() / b.as_secs_f64()),
                _ => "?".into(),
            },
            postgres.warm.rate() / sqlite.warm.rate(),
        );
    }
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let of_backend: Vec<&Section> = sections.iter().filter(|s| s.backend == backend).collect();
        compare_key_counts(&of_backend);
    }
}

/// keyward/baseline at the smallest and the largest key count of one backend.
fn compare_key_counts(sections: &[&Section]) {
    if let (Some(first), Some(last)) = (sections.first(), sections.last())
        && sections.len() > 1
    {
        let (r_first, r_last) = (first.median(Round::ratio), last.median(Round::ratio));
        let change = r_last / r_first;
        println!();
        println!(
            "keyward/baseline at {} vs {} keys: {r_last:.2} vs {r_first:.2} ({:+.0}%); keyward open p99 {} vs {}; \
             throughput ratio similar (within ±10%): {}",
            last.label(),
            first.keys,
            (change - 1.0) * 100.0,
            last.median_micros(|r| r.kw_open.result.quantile(0.99)),
            first.median_micros(|r| r.kw_open.result.quantile(0.99)),
            verdict((change - 1.0).abs() <= 0.10)
        );
    }
}
