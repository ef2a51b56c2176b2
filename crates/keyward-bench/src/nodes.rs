//! The multi-node phase (`--nodes URL`): three `keyward serve` processes over one PostgreSQL on
//! loopback, as behind a load balancer.
//!
//! - **Revocation propagation**: for each of `--revocations` keys, node B and node C verify the
//!   key until it is cached (a hit), node A deletes it, and from the moment A's answer arrives one
//!   client per other node verifies the key back to back until it is refused. The figure is that
//!   time, per node: from the mutation's response to the first rejecting verification (one
//!   verification's round trip included, so it is an upper bound of the propagation itself).
//! - **Throughput per node**: cached verifyKey closed-loop against node A alone, then against
//!   all three nodes at once (one load generator per node, each with `--connections`); each
//!   node's rate is reported as a ratio of the single node's. On a machine with fewer cores than
//!   three servers plus their generators, the nodes share the CPU, and the ratio says so too.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use hyper::header::HeaderValue;

use crate::client::{self, Conn};
use crate::load::{self, Plan, Target};
use crate::procs::ChildGuard;
use crate::{BenchArgs, PgSchema, ROOT_KEY, VALID_MARKER, VERIFY_PATH, micros, wrapped};

const REFUSED_MARKER: &[u8] = br#""code":"NOT_FOUND""#;

/// Runs the phase and prints its figures.
pub async fn run(args: &BenchArgs, keyward: &Path, admin_url: &str) -> anyhow::Result<()> {
    anyhow::ensure!(args.revocations >= 1, "--revocations must be at least 1");
    let schema = PgSchema::create(admin_url, 3).await?;
    let dir = tempfile::Builder::new()
        .prefix("keyward-bench-nodes-")
        .tempdir()?;
    let result = measure(args, keyward, &schema.url(), dir.path()).await;
    if args.keep_data {
        eprintln!("kept {}", dir.keep().display());
    }
    schema.drop_schema().await?;
    result
}

async fn measure(args: &BenchArgs, keyward: &Path, url: &str, dir: &Path) -> anyhow::Result<()> {
    let mut nodes = Vec::new();
    for name in ["A", "B", "C"] {
        let mut command = wrapped(args.keyward_wrapper.as_deref(), keyward)?;
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join(name))
            .args(["--database-url", url])
            .args(["--cache-ttl-secs", &args.cache_ttl_secs.to_string()])
            .env("KEYWARD_BOOTSTRAP_ROOT_KEY", ROOT_KEY)
            .env("RUST_LOG", "info")
            .env_remove("KEYWARD_DATABASE_URL")
            .env_remove("KEYWARD_CACHE_CAPACITY");
        // One after the other: the first migrates and bootstraps the empty schema.
        nodes.push(ChildGuard::spawn(
            &format!("keyward node {name}"),
            command,
            &dir.join(format!("{name}.log")),
        )?);
    }
    let addrs: Vec<_> = nodes.iter().map(|n| n.addr).collect();
    eprintln!(
        "\n== 3 nodes over one PostgreSQL: A {}, B {}, C {} ==",
        addrs[0], addrs[1], addrs[2]
    );
    let auth = HeaderValue::from_str(&format!("Bearer {ROOT_KEY}"))?;
    let mut a = Conn::open(addrs[0]).await?;
    let api_id = create_api(&mut a, &auth).await?;

    // Revocation propagation.
    let revocations = args.revocations;
    eprintln!("creating {revocations} keys to revoke through node A");
    let mut keys = Vec::with_capacity(revocations);
    for _ in 0..revocations {
        keys.push(create_key(&mut a, &auth, &api_id).await?);
    }
    let mut pollers = [Conn::open(addrs[1]).await?, Conn::open(addrs[2]).await?];
    let mut samples: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let mut polls = 0u64;
    for (key_id, key) in &keys {
        let body = Bytes::from(serde_json::json!({ "key": key }).to_string());
        // Cached on B and C: the first verification loads the key, the second is a hit.
        for poller in &mut pollers {
            for _ in 0..2 {
                let (status, answer) = poller.post(VERIFY_PATH, Some(&auth), body.clone()).await?;
                if status != 200 || !client::contains(&answer, VALID_MARKER) {
                    bail!(
                        "a fresh key was not VALID: HTTP {status} {}",
                        String::from_utf8_lossy(&answer)
                    );
                }
            }
        }
        let (status, answer) = a
            .post(
                "/v2/keys.deleteKey",
                Some(&auth),
                Bytes::from(serde_json::json!({ "keyId": key_id }).to_string()),
            )
            .await?;
        let deleted = Instant::now();
        if status != 200 {
            bail!(
                "keys.deleteKey failed: HTTP {status} {}",
                String::from_utf8_lossy(&answer)
            );
        }
        // Both other nodes polled at once, each by its own task.
        let [b, c] = &mut pollers;
        let (on_b, on_c) = tokio::try_join!(
            until_refused(b, &auth, body.clone(), deleted),
            until_refused(c, &auth, body.clone(), deleted)
        )?;
        polls += on_b.1 + on_c.1;
        samples[0].push(on_b.0);
        samples[1].push(on_c.0);
    }
    let mut all: Vec<Duration> = samples.iter().flatten().copied().collect();
    all.sort();
    for s in &mut samples {
        s.sort();
    }
    let q = |sorted: &[Duration], q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "revocation propagation ({} revocations through A, {} first-refusals on B and C, {:.1} verifications per refusal):",
        revocations,
        all.len(),
        polls as f64 / all.len() as f64
    );
    for (name, sorted) in [("B", &samples[0]), ("C", &samples[1]), ("both", &all)] {
        eprintln!(
            "  {name:>4}: p50 {}, p99 {}, max {}",
            micros(q(sorted, 0.5)),
            micros(q(sorted, 0.99)),
            micros(q(sorted, 1.0))
        );
    }

    // Throughput: cached verifications, node A alone and then all three at once.
    eprintln!("creating 1000 keys for the throughput phase");
    let mut bodies = Vec::new();
    for _ in 0..1000 {
        let (_, key) = create_key(&mut a, &auth, &api_id).await?;
        bodies.push(Bytes::from(serde_json::json!({ "key": key }).to_string()));
    }
    let bodies: Arc<[Bytes]> = bodies.into();
    let target = |addr| {
        Arc::new(Target {
            addr,
            path: VERIFY_PATH,
            authorization: Some(format!("Bearer {ROOT_KEY}")),
            bodies: bodies.clone(),
            expect: VALID_MARKER,
        })
    };
    // Every key cached on every node first.
    for &addr in &addrs {
        phase(target(addr), Plan::EachOnce, args).await?;
    }
    let plan = Plan::Closed {
        warmup: Duration::from_secs(args.warmup),
        duration: Duration::from_secs(args.duration),
        offset: 0,
    };
    let single = phase(target(addrs[0]), plan, args).await?;
    eprintln!("one node (A alone): {single:.0} verifications/s");
    let together = futures_join3(
        phase(target(addrs[0]), plan, args),
        phase(target(addrs[1]), plan, args),
        phase(target(addrs[2]), plan, args),
    )
    .await?;
    let total: f64 = together.iter().sum();
    eprintln!(
        "three nodes at once: A {:.0}/s ({:.2} of one node), B {:.0}/s ({:.2}), C {:.0}/s ({:.2}); {total:.0}/s in all ({:.2} of one node)",
        together[0],
        together[0] / single,
        together[1],
        together[1] / single,
        together[2],
        together[2] / single,
        total / single
    );
    eprintln!(
        "  on {} cores shared by three servers and their load generators",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    // The nodes stop when their guards drop.
    drop(nodes);
    Ok(())
}

/// Verifies `body` back to back until it is refused; returns the time since `since` and the
/// verifications sent.
async fn until_refused(
    conn: &mut Conn,
    auth: &HeaderValue,
    body: Bytes,
    since: Instant,
) -> anyhow::Result<(Duration, u64)> {
    let mut sent = 0;
    loop {
        let (status, answer) = conn.post(VERIFY_PATH, Some(auth), body.clone()).await?;
        sent += 1;
        if status == 200 && client::contains(&answer, REFUSED_MARKER) {
            return Ok((since.elapsed(), sent));
        }
        if status != 200 || !client::contains(&answer, VALID_MARKER) {
            bail!(
                "unexpected answer while polling: HTTP {status} {}",
                String::from_utf8_lossy(&answer)
            );
        }
        if since.elapsed() > Duration::from_secs(10) {
            bail!("a revoked key was still VALID on another node 10 s after the delete");
        }
    }
}

/// One closed-loop (or each-once) phase; its rate.
async fn phase(target: Arc<Target>, plan: Plan, args: &BenchArgs) -> anyhow::Result<f64> {
    let (connections, threads) = (args.connections, args.generator_threads);
    let result =
        tokio::task::spawn_blocking(move || load::run(&target, plan, connections, threads))
            .await??;
    crate::check("multi-node verifyKey", &result)?;
    Ok(result.rate())
}

async fn futures_join3(
    a: impl Future<Output = anyhow::Result<f64>>,
    b: impl Future<Output = anyhow::Result<f64>>,
    c: impl Future<Output = anyhow::Result<f64>>,
) -> anyhow::Result<[f64; 3]> {
    let (a, b, c) = tokio::try_join!(a, b, c)?;
    Ok([a, b, c])
}

async fn create_api(conn: &mut Conn, auth: &HeaderValue) -> anyhow::Result<String> {
    let (status, body) = conn
        .post(
            "/v2/apis.createApi",
            Some(auth),
            Bytes::from_static(br#"{"name":"bench-nodes"}"#),
        )
        .await?;
    let created: serde_json::Value = serde_json::from_slice(&body)?;
    match created["data"]["apiId"].as_str() {
        Some(id) if status == 200 => Ok(id.to_owned()),
        _ => bail!("apis.createApi failed: HTTP {status} {created}"),
    }
}

/// A new key of `api_id`: (keyId, key).
async fn create_key(
    conn: &mut Conn,
    auth: &HeaderValue,
    api_id: &str,
) -> anyhow::Result<(String, String)> {
    let (status, body) = conn
        .post(
            "/v2/keys.createKey",
            Some(auth),
            Bytes::from(serde_json::json!({ "apiId": api_id }).to_string()),
        )
        .await?;
    let value: serde_json::Value = serde_json::from_slice(&body)?;
    let data = &value["data"];
    match (data["keyId"].as_str(), data["key"].as_str()) {
        (Some(id), Some(key)) if status == 200 => Ok((id.to_owned(), key.to_owned())),
        _ => Err(anyhow::anyhow!(
            "keys.createKey failed: HTTP {status} {value}"
        ))
        .context("creating the multi-node phase's keys"),
    }
}
