//! Several `keyward serve` processes over one PostgreSQL, as behind a load balancer: a change made
//! through one node is honoured by the others (cross-node invalidation), credits stay exact
//! across nodes, a node that loses its invalidation channel answers correctly meanwhile and
//! recovers by itself, a node killed with -9 loses no acknowledged write and rejoins, and rate
//! limits admit their limit whether one node or three serve them.
//!
//! PostgreSQL only, by nature: several processes on one SQLite database are refused (serve.rs,
//! `a_second_process_on_one_sqlite_database_refuses_to_start`). These tests run in the suite's
//! PostgreSQL pass (`KEYWARD_TEST_DATABASE=postgres`, as `scripts/test.sh` runs it) and say so,
//! without running, in the SQLite pass.
//!
//! The bound checked here is generous (2 s): the benchmark (`keyward-bench --nodes`) measures
//! the real distribution.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use keyward_testing::{Backend, TestDatabase, backend, postgres_admin_url};
use serde_json::{Value, json};
use support::Process;
use tempfile::TempDir;

const ROOT_KEY: &str = "nodes_test_root_key_0123456789";

/// The bound a change must be honoured within on every other node (generous: see above).
const BOUND: Duration = Duration::from_secs(2);

/// A database for a cluster, or `None` (having said why) in the SQLite pass.
fn postgres_only(test: &str) -> Option<TestDatabase> {
    if backend() == Backend::Sqlite {
        eprintln!(
            "{test}: several nodes need PostgreSQL; this test runs in the PostgreSQL pass \
             (KEYWARD_TEST_DATABASE=postgres), not in the SQLite pass"
        );
        return None;
    }
    Some(TestDatabase::postgres_on(&postgres_admin_url()))
}

/// A running `keyward serve` (its stderr collected) with a data directory of its own.
struct Node {
    process: Process,
    _dir: TempDir,
}

impl Node {
    fn start(database_url: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(["--database-url", database_url])
            .env_clear()
            .env("KEYWARD_BOOTSTRAP_ROOT_KEY", ROOT_KEY)
            .env("RUST_LOG", "info");
        Node {
            process: Process::spawn(command),
            _dir: dir,
        }
    }

    fn url(&self) -> &str {
        &self.process.url
    }

    fn log(&self) -> String {
        self.process.log()
    }

    fn kill_9(&mut self) {
        self.process.child.kill().unwrap(); // SIGKILL
        self.process.child.wait().unwrap();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
    }
}

/// Three nodes (A, B, C = 0, 1, 2) over one PostgreSQL database.
struct Cluster {
    url: String,
    nodes: Vec<Node>,
    client: reqwest::Client,
    _db: TestDatabase,
}

/// A request whose answer shows whether a change was honoured: verifyKey with `body`, sent with
/// `bearer` as the root key.
#[derive(Clone)]
struct Probe {
    bearer: String,
    body: Value,
}

impl Probe {
    fn key(key: &str) -> Probe {
        Probe {
            bearer: ROOT_KEY.to_owned(),
            body: json!({"key": key}),
        }
    }

    fn key_with(key: &str, permissions: &str) -> Probe {
        Probe {
            bearer: ROOT_KEY.to_owned(),
            body: json!({"key": key, "permissions": permissions}),
        }
    }
}

impl Cluster {
    fn start(db: TestDatabase) -> Cluster {
        let url = db.url().expect("PostgreSQL").to_owned();
        // The first node migrates and bootstraps the empty database; then the others join.
        let first = Node::start(&url);
        let nodes = vec![first, Node::start(&url), Node::start(&url)];
        Cluster {
            url,
            nodes,
            client: reqwest::Client::new(),
            _db: db,
        }
    }

    async fn post(&self, node: usize, bearer: &str, op: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/v2/{op}", self.nodes[node].url()))
            .bearer_auth(bearer)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|err| panic!("{op} on node {node}: {err}"));
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `op` through `node` as the bootstrap root key; its `data`, which must come with a 200.
    async fn call(&self, node: usize, op: &str, body: Value) -> Value {
        let (status, reply) = self.post(node, ROOT_KEY, op, &body).await;
        assert_eq!(status, 200, "{op} {body} on node {node}: {reply}");
        reply["data"].clone()
    }

    async fn probe(&self, node: usize, probe: &Probe) -> (u16, Value) {
        let (status, reply) = self
            .post(node, &probe.bearer, "keys.verifyKey", &probe.body)
            .await;
        (status, reply["data"].clone())
    }

    async fn create_key(&self, api_id: &str, extra: Value) -> (String, String) {
        let mut body = json!({"apiId": api_id});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let created = self.call(0, "keys.createKey", body).await;
        (
            created["keyId"].as_str().unwrap().to_owned(),
            created["key"].as_str().unwrap().to_owned(),
        )
    }

    async fn metrics(&self, node: usize) -> String {
        self.client
            .get(format!("{}/metrics", self.nodes[node].url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn metric(&self, node: usize, name: &str) -> u64 {
        let text = self.metrics(node).await;
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    }

    async fn liveness(&self, node: usize) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}/v2/liveness", self.nodes[node].url()))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    async fn node_id(&self, node: usize) -> String {
        let (status, body) = self.liveness(node).await;
        assert_eq!(status, 200, "{body}");
        body["data"]["node"].as_str().unwrap().to_owned()
    }

    /// Waits until `node` says it is subscribed (within 10 s).
    async fn until_subscribed(&self, node: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = self.liveness(node).await;
            if status == 200 && body["data"]["invalidation"] == "subscribed" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node {node} did not resubscribe: {status} {body}\n{}",
                self.nodes[node].log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Warms B's and C's caches with `probe` (answered `before` there, from the cache), makes
    /// the change `op` through A, and checks that B and C answer `after` within [`BOUND`].
    async fn assert_propagates(
        &self,
        what: &str,
        probe: &Probe,
        cache: &str,
        (op, body): (&str, Value),
        before: impl Fn(u16, &Value) -> bool,
        after: impl Fn(u16, &Value) -> bool,
    ) {
        let hits = format!("keyward_cache_hits_total{{cache=\"{cache}\"}}");
        for node in [1, 2] {
            // Answered from the cache, as it was: the key's own creation (or an earlier change)
            // may still be forgetting it on this node when the first probes arrive, so probe
            // until one is a hit.
            let mut tries = 0;
            loop {
                let warm = self.metric(node, &hits).await;
                let (status, answer) = self.probe(node, probe).await;
                assert!(
                    before(status, &answer),
                    "{what}: node {node} before the change: {status} {answer}"
                );
                if self.metric(node, &hits).await > warm {
                    break;
                }
                tries += 1;
                assert!(
                    tries < 50,
                    "{what}: node {node} never answered from its cache\n{}",
                    self.nodes[node].log()
                );
            }
        }
        self.call(0, op, body).await;
        let changed = Instant::now();
        for node in [1, 2] {
            loop {
                let (status, answer) = self.probe(node, probe).await;
                if after(status, &answer) {
                    break;
                }
                assert!(
                    changed.elapsed() < BOUND,
                    "{what}: node {node} still answers {status} {answer} {BOUND:?} after {op} on node A"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

fn code(status: u16, answer: &Value) -> String {
    if status == 200 {
        answer["code"].as_str().unwrap_or("").to_owned()
    } else {
        format!("HTTP {status}")
    }
}

fn valid(status: u16, answer: &Value) -> bool {
    code(status, answer) == "VALID"
}

fn is(expected: &'static str) -> impl Fn(u16, &Value) -> bool {
    move |status, answer| code(status, answer) == expected
}

/// PostgreSQL's answer to `sql`, run with psql as the admin (one value per line).
fn psql(sql: &str) -> String {
    let output = Command::new("psql")
        .arg(postgres_admin_url())
        .args(["-Atqc", sql])
        .output()
        .expect("psql runs (scripts/test-tools.sh: the suite needs it)");
    assert!(
        output.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The server pids of `node`'s listening connection (found by its `application_name`).
fn listener_pids(node_id: &str) -> Vec<String> {
    psql(&format!(
        "select pid from pg_stat_activity where application_name = 'keyward-listener {node_id}'"
    ))
    .lines()
    .map(str::to_owned)
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_through_one_node_is_honoured_by_the_others_within_the_bound() {
    let Some(db) = postgres_only("every_change_through_one_node") else {
        return;
    };
    let c = Cluster::start(db);
    let api_id = c.call(0, "apis.createApi", json!({"name": "nodes"})).await["apiId"]
        .as_str()
        .unwrap()
        .to_owned();
    for node in 0..3 {
        let (status, body) = c.liveness(node).await;
        assert_eq!(status, 200);
        assert_eq!(body["data"]["database"], "postgres");
        assert_eq!(body["data"]["invalidation"], "subscribed");
    }

    let (id, key) = c.create_key(&api_id, json!({})).await;
    c.assert_propagates(
        "soft delete",
        &Probe::key(&key),
        "keys",
        ("keys.deleteKey", json!({"keyId": id})),
        valid,
        is("NOT_FOUND"),
    )
    .await;

    let (id, key) = c.create_key(&api_id, json!({})).await;
    c.assert_propagates(
        "permanent delete",
        &Probe::key(&key),
        "keys",
        ("keys.deleteKey", json!({"keyId": id, "permanent": true})),
        valid,
        is("NOT_FOUND"),
    )
    .await;

    let (id, key) = c.create_key(&api_id, json!({})).await;
    c.assert_propagates(
        "disable",
        &Probe::key(&key),
        "keys",
        ("keys.updateKey", json!({"keyId": id, "enabled": false})),
        valid,
        is("DISABLED"),
    )
    .await;

    let (id, key) = c.create_key(&api_id, json!({})).await;
    let expires = 4_102_444_800_000_i64; // 2100-01-01
    c.assert_propagates(
        "update of expires",
        &Probe::key(&key),
        "keys",
        ("keys.updateKey", json!({"keyId": id, "expires": expires})),
        |s, a| valid(s, a) && a["expires"].is_null(),
        move |s, a| valid(s, a) && a["expires"] == expires,
    )
    .await;

    let (id, key) = c.create_key(&api_id, json!({})).await;
    c.assert_propagates(
        "credits set to 0",
        &Probe::key(&key),
        "keys",
        (
            "keys.updateCredits",
            json!({"keyId": id, "operation": "set", "value": 0}),
        ),
        valid,
        is("USAGE_EXCEEDED"),
    )
    .await;

    let (id, key) = c.create_key(&api_id, json!({})).await;
    c.assert_propagates(
        "reroll with expiration 0",
        &Probe::key(&key),
        "keys",
        ("keys.rerollKey", json!({"keyId": id, "expiration": 0})),
        valid,
        |s, a| !valid(s, a),
    )
    .await;

    let other_api = c.call(0, "apis.createApi", json!({"name": "doomed"})).await["apiId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, key) = c.create_key(&other_api, json!({})).await;
    c.assert_propagates(
        "API delete",
        &Probe::key(&key),
        "keys",
        ("apis.deleteApi", json!({"apiId": other_api})),
        valid,
        is("NOT_FOUND"),
    )
    .await;

    // Permissions and roles: the key's grants are cached with it.
    for slug in ["p.one", "p.two", "p.three", "p.four", "p.five"] {
        c.call(
            0,
            "permissions.createPermission",
            json!({"name": slug, "slug": slug}),
        )
        .await;
    }
    let (_, key) = c
        .create_key(&api_id, json!({"permissions": ["p.one"]}))
        .await;
    c.assert_propagates(
        "permission delete",
        &Probe::key_with(&key, "p.one"),
        "keys",
        (
            "permissions.deletePermission",
            json!({"permission": "p.one"}),
        ),
        valid,
        is("INSUFFICIENT_PERMISSIONS"),
    )
    .await;

    c.call(
        0,
        "permissions.createRole",
        json!({"name": "r-one", "permissions": ["p.two"]}),
    )
    .await;
    let (_, key) = c.create_key(&api_id, json!({"roles": ["r-one"]})).await;
    c.assert_propagates(
        "role delete",
        &Probe::key_with(&key, "p.two"),
        "keys",
        ("permissions.deleteRole", json!({"role": "r-one"})),
        valid,
        is("INSUFFICIENT_PERMISSIONS"),
    )
    .await;

    c.call(
        0,
        "permissions.createRole",
        json!({"name": "r-two", "permissions": ["p.three"]}),
    )
    .await;
    let (id, key) = c.create_key(&api_id, json!({"roles": ["r-two"]})).await;
    c.assert_propagates(
        "role removed from the key",
        &Probe::key_with(&key, "p.three"),
        "keys",
        ("keys.removeRoles", json!({"keyId": id, "roles": ["r-two"]})),
        valid,
        is("INSUFFICIENT_PERMISSIONS"),
    )
    .await;

    let (id, key) = c
        .create_key(&api_id, json!({"permissions": ["p.four"]}))
        .await;
    c.assert_propagates(
        "permission removed from the key",
        &Probe::key_with(&key, "p.four"),
        "keys",
        (
            "keys.removePermissions",
            json!({"keyId": id, "permissions": ["p.four"]}),
        ),
        valid,
        is("INSUFFICIENT_PERMISSIONS"),
    )
    .await;

    c.call(
        0,
        "permissions.createRole",
        json!({"name": "r-three", "permissions": ["p.five"]}),
    )
    .await;
    let (_, key) = c.create_key(&api_id, json!({"roles": ["r-three"]})).await;
    c.assert_propagates(
        "role's permissions replaced",
        &Probe::key_with(&key, "p.five"),
        "keys",
        (
            "permissions.setRolePermissions",
            json!({"role": "r-three", "permissions": []}),
        ),
        valid,
        is("INSUFFICIENT_PERMISSIONS"),
    )
    .await;

    // Identities: the verification answer carries the key's identity.
    c.call(
        0,
        "identities.createIdentity",
        json!({"externalId": "user-upd", "meta": {"plan": "free"}}),
    )
    .await;
    let (_, key) = c
        .create_key(&api_id, json!({"externalId": "user-upd"}))
        .await;
    c.assert_propagates(
        "identity update",
        &Probe::key(&key),
        "keys",
        (
            "identities.updateIdentity",
            json!({"identity": "user-upd", "meta": {"plan": "pro"}}),
        ),
        |s, a| valid(s, a) && a["identity"]["meta"]["plan"] == "free",
        |s, a| valid(s, a) && a["identity"]["meta"]["plan"] == "pro",
    )
    .await;

    c.call(
        0,
        "identities.createIdentity",
        json!({"externalId": "user-del"}),
    )
    .await;
    let (_, key) = c
        .create_key(&api_id, json!({"externalId": "user-del"}))
        .await;
    c.assert_propagates(
        "identity delete",
        &Probe::key(&key),
        "keys",
        ("identities.deleteIdentity", json!({"identity": "user-del"})),
        |s, a| valid(s, a) && a["identity"]["externalId"] == "user-del",
        |s, a| valid(s, a) && a["identity"].is_null(),
    )
    .await;

    // Root keys: authentication is cached too.
    let (_, key) = c.create_key(&api_id, json!({})).await;
    for (what, change) in [
        ("root-key delete", "delete"),
        ("root-key permissions changed", "permissions"),
        ("root-key disabled", "disable"),
    ] {
        let root = c
            .call(
                0,
                "rootKeys.createKey",
                json!({"permissions": ["api.*.verify_key"]}),
            )
            .await;
        let (root_id, root_key) = (
            root["keyId"].as_str().unwrap().to_owned(),
            root["key"].as_str().unwrap().to_owned(),
        );
        let change = match change {
            "delete" => ("rootKeys.deleteKey", json!({"keyId": root_id})),
            "permissions" => (
                "rootKeys.updateKey",
                json!({"keyId": root_id, "permissions": ["api.*.read_api"]}),
            ),
            _ => (
                "rootKeys.updateKey",
                json!({"keyId": root_id, "enabled": false}),
            ),
        };
        let probe = Probe {
            bearer: root_key,
            body: json!({"key": key}),
        };
        c.assert_propagates(what, &probe, "root_keys", change, valid, |s, a| {
            !valid(s, a)
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_are_exact_across_three_nodes() {
    let Some(db) = postgres_only("credits_are_exact_across_three_nodes") else {
        return;
    };
    let c = Arc::new(Cluster::start(db));
    let api_id = c
        .call(0, "apis.createApi", json!({"name": "credits"}))
        .await["apiId"]
        .as_str()
        .unwrap()
        .to_owned();
    const CREDITS: usize = 60;
    const ATTEMPTS: usize = 150;
    let (key_id, key) = c
        .create_key(&api_id, json!({"credits": {"remaining": CREDITS}}))
        .await;
    // Every node has the key cached (metered: the balance itself is never cached).
    for node in 0..3 {
        let (status, answer) = c
            .probe(
                node,
                &Probe {
                    bearer: ROOT_KEY.to_owned(),
                    body: json!({"key": key, "credits": {"cost": 0}}),
                },
            )
            .await;
        assert!(valid(status, &answer), "{status} {answer}");
    }
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let (c, key, next) = (c.clone(), key.clone(), next.clone());
            tokio::spawn(async move {
                let mut codes = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= ATTEMPTS {
                        return codes;
                    }
                    let (status, answer) = c.probe(n % 3, &Probe::key(&key)).await;
                    codes.push((n % 3, code(status, &answer)));
                }
            })
        })
        .collect();
    let mut valid_by_node = [0usize; 3];
    let mut exceeded = 0;
    for task in tasks {
        for (node, code) in task.await.unwrap() {
            match code.as_str() {
                "VALID" => valid_by_node[node] += 1,
                "USAGE_EXCEEDED" => exceeded += 1,
                other => panic!("unexpected {other}"),
            }
        }
    }
    assert_eq!(
        valid_by_node.iter().sum::<usize>(),
        CREDITS,
        "exactly the credits, by node: {valid_by_node:?}"
    );
    assert_eq!(exceeded, ATTEMPTS - CREDITS);
    assert!(
        valid_by_node.iter().all(|&n| n > 0),
        "every node spent some: {valid_by_node:?}"
    );
    for node in 0..3 {
        let got = c.call(node, "keys.getKey", json!({"keyId": key_id})).await;
        assert_eq!(got["credits"]["remaining"], 0, "node {node}: {got}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_loses_its_channel_answers_correctly_and_recovers_by_itself() {
    let Some(db) = postgres_only("a_node_that_loses_its_channel") else {
        return;
    };
    let c = Arc::new(Cluster::start(db));
    let api_id = c.call(0, "apis.createApi", json!({"name": "lossy"})).await["apiId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (revoked_id, revoked) = c.create_key(&api_id, json!({})).await;
    let (_, kept) = c.create_key(&api_id, json!({})).await;
    for key in [&revoked, &kept] {
        for _ in 0..2 {
            assert_eq!(code_of(&c, 1, key).await, "VALID");
        }
    }
    let b = c.node_id(1).await;
    assert_eq!(listener_pids(&b).len(), 1, "B listens on one connection");
    assert_eq!(
        c.metric(1, "keyward_invalidation_state{state=\"subscribed\"}")
            .await,
        1
    );
    let losses = c.metric(1, "keyward_invalidation_losses_total").await;

    // Keep B's listening connection terminated, each new one within about a millisecond of its
    // appearing, for 4 s: a loop inside PostgreSQL (a psql per termination takes far longer
    // than B takes to resubscribe).
    let terminator = {
        let b = b.clone();
        std::thread::spawn(move || {
            psql(&format!(
                "do $$ declare until timestamptz := clock_timestamp() + interval '4 seconds'; \
                 begin while clock_timestamp() < until loop \
                   perform pg_stat_clear_snapshot(); \
                   perform pg_terminate_backend(pid) from pg_stat_activity \
                     where application_name = 'keyward-listener {b}'; \
                   perform pg_sleep(0.001); \
                 end loop; end $$"
            ));
        })
    };
    // B notices, says so, and takes itself out of the load balancer.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = c.liveness(1).await;
        if status == 503 {
            assert_eq!(body["error"]["status"], 503, "{body}");
            assert!(
                body["error"]["detail"]
                    .as_str()
                    .unwrap()
                    .contains("invalidation channel"),
                "{body}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "B never said it is degraded");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(c.metric(1, "keyward_invalidation_losses_total").await > losses);

    // A revocation made meanwhile (its notification can reach no listener of B) is honoured by
    // B at once: degraded, B reads the database for every verification. B keeps trying to
    // resubscribe, so the checks are repeated until one ran while B was degraded throughout
    // (503 before and after, and no new loss between: a subscription in between would have
    // answered 200 after, or been lost again).
    c.call(0, "keys.deleteKey", json!({"keyId": revoked_id}))
        .await;
    let mut attempts = 0;
    loop {
        let lost = c.metric(1, "keyward_invalidation_losses_total").await;
        let (before, _) = c.liveness(1).await;
        let bypassed = c
            .metric(1, "keyward_cache_bypassed_total{cache=\"keys\"}")
            .await;
        assert_eq!(code_of(&c, 1, &revoked).await, "NOT_FOUND");
        assert_eq!(code_of(&c, 1, &kept).await, "VALID", "B still answers");
        let now_bypassed = c
            .metric(1, "keyward_cache_bypassed_total{cache=\"keys\"}")
            .await;
        let (after, _) = c.liveness(1).await;
        if before == 503
            && after == 503
            && c.metric(1, "keyward_invalidation_losses_total").await == lost
        {
            assert!(
                now_bypassed >= bypassed + 2,
                "B's answers came from the database"
            );
            break;
        }
        attempts += 1;
        assert!(attempts < 50, "B was never degraded throughout the checks");
    }
    assert_eq!(code_of(&c, 2, &revoked).await, "NOT_FOUND", "C heard it");

    terminator.join().unwrap();
    c.until_subscribed(1).await;
    assert_eq!(
        c.metric(1, "keyward_invalidation_state{state=\"degraded\"}")
            .await,
        0
    );
    let log = c.nodes[1].log();
    assert!(log.contains("lost the invalidation channel"), "{log}");
    assert!(log.contains("invalidation channel restored"), "{log}");

    // Recovered: B serves from its caches again, and hears later revocations.
    assert_eq!(code_of(&c, 1, &revoked).await, "NOT_FOUND");
    let (later_id, later) = c.create_key(&api_id, json!({})).await;
    c.assert_propagates(
        "delete after recovery",
        &Probe::key(&later),
        "keys",
        ("keys.deleteKey", json!({"keyId": later_id})),
        valid,
        is("NOT_FOUND"),
    )
    .await;
}

async fn code_of(c: &Cluster, node: usize, key: &str) -> String {
    let (status, answer) = c.probe(node, &Probe::key(key)).await;
    code(status, &answer)
}

/// A connection that dies without an error (here: its server process stopped) is noticed by the
/// missing heartbeat, within about a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silently_dead_channel_is_noticed_by_its_heartbeat() {
    let Some(db) = postgres_only("a_silently_dead_channel") else {
        return;
    };
    let c = Cluster::start(db);
    let b = c.node_id(1).await;
    let pids = listener_pids(&b);
    assert_eq!(pids.len(), 1);
    let losses = c.metric(1, "keyward_invalidation_losses_total").await;
    let signal = |sig: &str| {
        let status = Command::new("kill").args([sig, &pids[0]]).status().unwrap();
        assert!(status.success(), "kill {sig} {}", pids[0]);
    };
    signal("-STOP");
    let stopped = Instant::now();
    let noticed = loop {
        if c.metric(1, "keyward_invalidation_losses_total").await > losses {
            break stopped.elapsed();
        }
        if stopped.elapsed() > Duration::from_secs(10) {
            signal("-CONT");
            panic!("B never noticed:\n{}", c.nodes[1].log());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    signal("-CONT");
    assert!(
        noticed >= Duration::from_millis(500),
        "noticed by the missing heartbeat, not by an error: {noticed:?}"
    );
    assert!(
        c.nodes[1].log().contains("heartbeats included"),
        "{}",
        c.nodes[1].log()
    );
    c.until_subscribed(1).await;
    assert_ne!(listener_pids(&b), pids, "a new connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_load_loses_no_acknowledged_write_and_rejoins() {
    let Some(db) = postgres_only("a_node_killed_mid_load") else {
        return;
    };
    let mut c = Cluster::start(db);
    let api_id = c.call(0, "apis.createApi", json!({"name": "crash"})).await["apiId"]
        .as_str()
        .unwrap()
        .to_owned();
    let urls: Vec<String> = c.nodes.iter().map(|n| n.url().to_owned()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    // Writers on every node: a created key is acknowledged when its 200 arrives.
    let writers: Vec<_> = (0..6)
        .map(|n| {
            let (url, api_id, stop) = (urls[n % 3].clone(), api_id.clone(), stop.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut acknowledged = Vec::new();
                let mut failed_after_ok = 0;
                while !stop.load(Ordering::Relaxed) {
                    let sent = client
                        .post(format!("{url}/v2/keys.createKey"))
                        .bearer_auth(ROOT_KEY)
                        .json(&json!({"apiId": api_id}))
                        .timeout(Duration::from_secs(5))
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status() == 200 => {
                            let body: Value = r.json().await.unwrap();
                            acknowledged.push((
                                body["data"]["keyId"].as_str().unwrap().to_owned(),
                                body["data"]["key"].as_str().unwrap().to_owned(),
                            ));
                        }
                        Ok(r) => panic!("node {} answered {}", n % 3, r.status()),
                        // Only the killed node's clients see their connection go.
                        Err(_) => failed_after_ok += 1,
                    }
                }
                (n % 3, acknowledged, failed_after_ok)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    c.nodes[2].kill_9();
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for writer in writers {
        let (node, keys, failures) = writer.await.unwrap();
        if node != 2 {
            assert_eq!(failures, 0, "node {node} kept serving");
        }
        acknowledged.extend(keys);
    }
    assert!(acknowledged.len() > 20, "{} writes", acknowledged.len());
    for (key_id, key) in &acknowledged {
        c.call(0, "keys.getKey", json!({"keyId": key_id})).await;
        assert_eq!(code_of(&c, 1, key).await, "VALID");
    }
    assert!(killed.elapsed() < Duration::from_secs(60));

    // C restarts on the same database, rejoins, and honours later revocations.
    c.nodes[2] = Node::start(&c.url);
    c.until_subscribed(2).await;
    let (key_id, key) = &acknowledged[0];
    let probe = Probe::key(key);
    // Warm the new C the way `assert_propagates` warms B and C.
    c.assert_propagates(
        "revocation after the restart",
        &probe,
        "keys",
        ("keys.deleteKey", json!({"keyId": key_id})),
        valid,
        is("NOT_FOUND"),
    )
    .await;
}

/// `CALLS` requests of `op` with `body` (its `key`, if any, taken in turn from `keys`) sent 30 at a
/// time over `nodes` in turn; how many each node admitted (`success` of ratelimit.limit, VALID of
/// verifyKey), checking that every other answer is the limit's refusal.
async fn admitted_over(
    c: &Arc<Cluster>,
    nodes: &'static [usize],
    op: &'static str,
    bodies: Vec<Value>,
) -> [usize; 3] {
    let next = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(bodies);
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let (c, next, bodies) = (c.clone(), next.clone(), bodies.clone());
            tokio::spawn(async move {
                let mut admitted = [0usize; 3];
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(n) else {
                        return admitted;
                    };
                    let node = nodes[n % nodes.len()];
                    let data = c.call(node, op, body.clone()).await;
                    let admit = match op {
                        "ratelimit.limit" => data["success"] == true,
                        _ => match data["code"].as_str() {
                            Some("VALID") => true,
                            Some("RATE_LIMITED") => false,
                            _ => panic!("unexpected answer on node {node}: {data}"),
                        },
                    };
                    admitted[node] += usize::from(admit);
                }
            })
        })
        .collect();
    let mut admitted = [0usize; 3];
    for task in tasks {
        for (total, n) in admitted.iter_mut().zip(task.await.unwrap()) {
            *total += n;
        }
    }
    admitted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_admit_the_limit_whether_one_or_three_nodes_serve_them() {
    let Some(db) =
        postgres_only("rate_limits_admit_the_limit_whether_one_or_three_nodes_serve_them")
    else {
        return;
    };
    // The nodes run the default engine on PostgreSQL: the database. Windows of an hour, so
    // that a test's traffic stays in one window (were it to cross a boundary, the sliding
    // window would admit about one more: within the 1 % allowed).
    const LIMIT: usize = 100;
    const CALLS: usize = 250;
    const DURATION: i64 = 3_600_000;
    let within = |admitted: usize| (LIMIT..=LIMIT + LIMIT / 100).contains(&admitted);
    let c = Arc::new(Cluster::start(db));
    let api_id = c.call(0, "apis.createApi", json!({"name": "limits"})).await["apiId"]
        .as_str()
        .unwrap()
        .to_owned();
    let limits =
        json!([{"name": "requests", "limit": LIMIT, "duration": DURATION, "autoApply": true}]);
    for (serving, nodes) in [("1 node", &[0][..]), ("3 nodes", &[0, 1, 2][..])] {
        // The standalone limiter.
        let identifier = format!("user-{}", nodes.len());
        let body = json!({"namespace": "api", "identifier": identifier, "limit": LIMIT, "duration": DURATION});
        let admitted = admitted_over(&c, nodes, "ratelimit.limit", vec![body; CALLS]).await;
        let total: usize = admitted.iter().sum();
        assert!(
            within(total),
            "ratelimit.limit over {serving}: {total} admitted of {LIMIT}, by node {admitted:?}"
        );
        if nodes.len() == 3 {
            assert!(
                admitted.iter().all(|&n| n > 0),
                "every node admitted some: {admitted:?}"
            );
        }

        // A key's auto-applied limit.
        let (_, key) = c.create_key(&api_id, json!({"ratelimits": limits})).await;
        let admitted = admitted_over(
            &c,
            nodes,
            "keys.verifyKey",
            vec![json!({"key": key}); CALLS],
        )
        .await;
        let total: usize = admitted.iter().sum();
        assert!(
            within(total),
            "a key's limit over {serving}: {total} admitted of {LIMIT}, by node {admitted:?}"
        );

        // An identity's limit, shared by its two keys.
        let external_id = format!("customer-{}", nodes.len());
        c.call(
            0,
            "identities.createIdentity",
            json!({"externalId": external_id, "ratelimits": limits}),
        )
        .await;
        let (_, first) = c
            .create_key(&api_id, json!({"externalId": external_id}))
            .await;
        let (_, second) = c
            .create_key(&api_id, json!({"externalId": external_id}))
            .await;
        let bodies = (0..CALLS)
            .map(|n| json!({"key": if n % 2 == 0 { &first } else { &second }}))
            .collect();
        let admitted = admitted_over(&c, nodes, "keys.verifyKey", bodies).await;
        let total: usize = admitted.iter().sum();
        assert!(
            within(total),
            "an identity's limit over {serving}: {total} admitted of {LIMIT}, by node {admitted:?}"
        );
    }
}
