//! The isolation and permission matrix: every operation of the registry × every kind of caller
//! → the expected answer.
//!
//! The rows come from the registry (`keyward_types::operations::ALL`) and each operation's
//! `needs`; what is operation-specific — a valid request body over freshly made resources, and
//! where an operation answers otherwise than the default — is one entry of [`fixture`]. An
//! operation without an entry fails the test by name, so a new operation cannot be added without
//! its rows (docs/RELIABILITY.md, "Isolation and permission matrix").
//!
//! The callers, for every operation:
//! - no `Authorization` header (400), a malformed one (400), an unknown key (401), a regular API
//!   key sent as a root key (401, exactly as unknown);
//! - a disabled root key (403 `key_disabled`), an expired one (403 `forbidden`);
//! - a foreign workspace's all-powerful root key (404 for anything of ours; its own workspace's
//!   answer, with nothing of ours in it, for creates and lists);
//! - for each needed action, a root key holding every other workspace permission but that one
//!   (403); and one holding exactly what is needed, but for another resource of the same type,
//!   where the action's permissions name single resources (`api.<id>.…`, `identity.<id>.…`,
//!   `rootkey.<id>.…`; 403);
//! - a root key holding exactly the needed actions (200): `needs` in the registry is the truth.

use std::time::Duration;

use keyward_types::operations::{ALL, Operation};
use keyward_types::permissions::{self, Action, Resource};
use serde_json::{Value, json};

use crate::helpers::{ROOT_KEY, Reply, TestApp};

/// What a row expects.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// This status, with an error body of Unkey's shape.
    Status(u16),
    /// 200, answered from the caller's own view: nothing of the resources the rows act on in it.
    Own,
    /// 200 with verifyKey's `NOT_FOUND` verdict (a key the caller may not see does not exist).
    NotFoundVerdict,
}

/// One operation's request and its departures from the default expectations.
struct Fixture {
    body: Value,
    /// Permissions the right key needs beyond the operation's own (a root key can only grant,
    /// change or delete root keys whose permissions it holds).
    extra: &'static [&'static str],
    /// A foreign workspace's root key: 404 by default.
    foreign: Expect,
    /// A key lacking a needed permission, or holding it for another resource: 403 by default.
    denied: Expect,
}

fn fx(body: Value) -> Fixture {
    Fixture {
        body,
        extra: &[],
        foreign: Expect::Status(404),
        denied: Expect::Status(403),
    }
}

impl Fixture {
    fn foreign(mut self, expect: Expect) -> Fixture {
        self.foreign = expect;
        self
    }
    fn denied(mut self, expect: Expect) -> Fixture {
        self.denied = expect;
        self
    }
    fn extra(mut self, extra: &'static [&'static str]) -> Fixture {
        self.extra = extra;
        self
    }
}

/// Resources made afresh for each operation (a delete acts on its own), in the bootstrap
/// workspace: `a` is what the request names, `b` the "other resource" of the same type.
struct World {
    n: usize,
    api_a: String,
    api_b: String,
    key_a: (String, String),
    perm_a: String,
    role_a: String,
    identity_a: (String, String),
    identity_b: (String, String),
    root_key_a: String,
    root_key_b: String,
    /// A rate-limit namespace's name (requests name it), and the other namespace's id.
    namespace_a: String,
    namespace_b: String,
    /// Every id and name of this world, none of which a foreign caller may see.
    secrets: Vec<String>,
    /// The ids and names of the `a` resources, none of which a denied caller may see.
    a_secrets: Vec<String>,
}

/// The entry of every operation: a valid request over `w`'s resources. The only place to touch
/// when an operation is added (a few lines: its body, and where it answers otherwise).
fn fixture(operation: &str, w: &World) -> Option<Fixture> {
    use Expect::{NotFoundVerdict, Own, Status};
    let n = w.n;
    let (api, key_id, key) = (&w.api_a, &w.key_a.0, &w.key_a.1);
    let (perm, role, identity) = (&w.perm_a, &w.role_a, &w.identity_a.1);
    let root_key = &w.root_key_a;
    Some(match operation {
        "apis.createApi" => fx(json!({"name": format!("matrix-{n}")})).foreign(Own),
        "apis.getApi" => fx(json!({"apiId": api})),
        "apis.updateApi" => fx(json!({"apiId": api, "name": "renamed"})),
        "apis.deleteApi" => fx(json!({"apiId": api})),
        "apis.listKeys" => fx(json!({"apiId": api})),
        "keys.createKey" => fx(json!({"apiId": api})),
        "keys.getKey" => fx(json!({"keyId": key_id})),
        // Unkey: a key the caller may not read is as unknown as a key that does not exist.
        "keys.whoami" => fx(json!({"key": key})).denied(Status(404)),
        "keys.updateKey" => fx(json!({"keyId": key_id, "name": "renamed"})),
        "keys.updateCredits" => fx(json!({"keyId": key_id, "operation": "set", "value": 5})),
        "keys.rerollKey" => fx(json!({"keyId": key_id, "expiration": 0})),
        "keys.deleteKey" => fx(json!({"keyId": key_id})),
        "keys.verifyKey" => fx(json!({"key": key}))
            .foreign(NotFoundVerdict)
            .denied(NotFoundVerdict),
        "rootKeys.createRootKey" | "rootKeys.createKey" => {
            fx(json!({"name": "matrix", "permissions": ["api.*.read_api"]}))
                .extra(&["api.*.read_api"])
                .foreign(Own)
        }
        "rootKeys.listRootKeys" => fx(json!({})).foreign(Own),
        // Unkey's list leaves out the root keys the caller may not read: it never answers 403.
        "rootKeys.listKeys" => fx(json!({})).foreign(Own).denied(Own),
        "rootKeys.deleteRootKey" | "rootKeys.deleteKey" => {
            fx(json!({"keyId": root_key})).extra(&["api.*.read_api"])
        }
        "rootKeys.updateKey" => {
            fx(json!({"keyId": root_key, "name": "renamed"})).extra(&["api.*.read_api"])
        }
        "rootKeys.rerollKey" => {
            fx(json!({"keyId": root_key, "expiration": null})).extra(&["api.*.read_api"])
        }
        // Instance-level: no workspace's root key holds it.
        "workspaces.createWorkspace" => {
            fx(json!({"name": format!("matrix-{n}")})).foreign(Status(403))
        }
        "auditLogs.listLogs" => fx(json!({})).foreign(Own),
        "permissions.createPermission" => {
            let slug = format!("matrix.new.{n}");
            fx(json!({"name": slug, "slug": slug})).foreign(Own)
        }
        "permissions.getPermission" => fx(json!({"permission": perm})),
        "permissions.listPermissions" => fx(json!({})).foreign(Own),
        "permissions.updatePermission" => fx(json!({"permission": perm, "description": "x"})),
        "permissions.deletePermission" => fx(json!({"permission": perm})),
        "permissions.createRole" => fx(json!({"name": format!("matrix-new-{n}")})).foreign(Own),
        "permissions.getRole" => fx(json!({"role": role})),
        "permissions.listRoles" => fx(json!({})).foreign(Own),
        "permissions.updateRole" => fx(json!({"role": role, "description": "x"})),
        "permissions.deleteRole" => fx(json!({"role": role})),
        "permissions.setRolePermissions" => fx(json!({"role": role, "permissions": [perm]})),
        "keys.addPermissions" | "keys.removePermissions" | "keys.setPermissions" => {
            fx(json!({"keyId": key_id, "permissions": [perm]}))
        }
        "keys.addRoles" | "keys.removeRoles" | "keys.setRoles" => {
            fx(json!({"keyId": key_id, "roles": [role]}))
        }
        "identities.createIdentity" => {
            fx(json!({"externalId": format!("matrix_new_{n}")})).foreign(Own)
        }
        "identities.getIdentity" => fx(json!({"identity": identity})),
        "identities.listIdentities" => fx(json!({})).foreign(Own),
        "identities.updateIdentity" => fx(json!({"identity": identity, "meta": {"a": 1}})),
        "identities.deleteIdentity" => fx(json!({"identity": identity})),
        // A foreign caller's `limit` creates a namespace of that name in its own workspace.
        "ratelimit.limit" => fx(limit(w)).foreign(Own),
        "ratelimit.multiLimit" => fx(json!([limit(w)])).foreign(Own),
        "ratelimit.setOverride" => fx(
            json!({"namespace": w.namespace_a, "identifier": "new", "limit": 5, "duration": 1000}),
        ),
        "ratelimit.getOverride" | "ratelimit.deleteOverride" => {
            fx(json!({"namespace": w.namespace_a, "identifier": "user_a"}))
        }
        "ratelimit.listOverrides" => fx(json!({"namespace": w.namespace_a})),
        _ => return None,
    })
}

/// A `ratelimit.limit` request on `w`'s namespace.
fn limit(w: &World) -> Value {
    json!({"namespace": w.namespace_a, "identifier": "user_a", "limit": 100, "duration": 60_000})
}

/// Creates the rate-limit namespace `name` (by its first use) and returns its id.
async fn namespace(app: &TestApp, name: &str) -> String {
    app.call(
        "ratelimit.limit",
        json!({"namespace": name, "identifier": "x", "limit": 100, "duration": 60_000}),
    )
    .await;
    let events = app
        .call(
            "auditLogs.listLogs",
            json!({"event": "ratelimitNamespace.create", "limit": 1}),
        )
        .await;
    events[0]["targets"][0]["id"].as_str().unwrap().to_owned()
}

async fn world(app: &TestApp, n: usize) -> World {
    let api_a = app.create_api().await;
    let api_b = app.create_api().await;
    let key_a = app.create_key(&api_a, json!({})).await;
    let key_b = app.create_key(&api_b, json!({})).await;
    let perm_a = format!("matrix.perm.{n}");
    let perm_b = format!("matrix.other.{n}");
    let mut ids = Vec::new();
    for slug in [&perm_a, &perm_b] {
        let data = app
            .call(
                "permissions.createPermission",
                json!({"name": slug, "slug": slug}),
            )
            .await;
        ids.push(data["permissionId"].as_str().unwrap().to_owned());
    }
    let role_a = format!("matrix-role-{n}");
    let data = app
        .call(
            "permissions.createRole",
            json!({"name": role_a, "permissions": [perm_a]}),
        )
        .await;
    ids.push(data["roleId"].as_str().unwrap().to_owned());
    let mut identities = Vec::new();
    for side in ["a", "b"] {
        let external_id = format!("matrix_{side}_{n}");
        let data = app
            .call(
                "identities.createIdentity",
                json!({"externalId": external_id}),
            )
            .await;
        identities.push((data["identityId"].as_str().unwrap().to_owned(), external_id));
    }
    let (root_key_a, _) = app.root_key_id_with(&["api.*.read_api"]).await;
    let (root_key_b, _) = app.root_key_id_with(&["api.*.read_api"]).await;
    let namespace_a = format!("matrix-ns-a-{n}");
    let namespace_a_id = namespace(app, &namespace_a).await;
    let namespace_b = namespace(app, &format!("matrix-ns-b-{n}")).await;
    app.call(
        "ratelimit.setOverride",
        json!({"namespace": namespace_a, "identifier": "user_a", "limit": 10, "duration": 1000}),
    )
    .await;
    let identity_b = identities.pop().unwrap();
    let identity_a = identities.pop().unwrap();
    let mut secrets = vec![
        api_a.clone(),
        api_b.clone(),
        key_a.0.clone(),
        key_b.0.clone(),
        perm_a.clone(),
        perm_b,
        role_a.clone(),
        identity_a.0.clone(),
        identity_a.1.clone(),
        identity_b.0.clone(),
        root_key_a.clone(),
        root_key_b.clone(),
        namespace_a_id.clone(),
        namespace_b.clone(),
    ];
    secrets.extend(ids);
    let a_secrets = vec![
        api_a.clone(),
        key_a.0.clone(),
        identity_a.0.clone(),
        root_key_a.clone(),
        namespace_a_id,
    ];
    World {
        n,
        api_a,
        api_b,
        key_a,
        perm_a,
        role_a,
        identity_a,
        identity_b,
        root_key_a,
        root_key_b,
        namespace_a,
        namespace_b,
        secrets,
        a_secrets,
    }
}

/// The permission granting `action` on only the other resource of `w` of its type, where the
/// action's tuples can name a single resource.
fn for_other_resource(action: Action, w: &World) -> Option<String> {
    let id = match action.resource() {
        Resource::Api => &w.api_b,
        Resource::Identity => &w.identity_b.0,
        Resource::RootKey => &w.root_key_b,
        Resource::Ratelimit => &w.namespace_b,
        // rbac, audit-log and workspace permissions are workspace-wide: no narrower grant exists.
        _ => return None,
    };
    Some(format!(
        "{}.{id}.{}",
        action.resource().as_str(),
        action.name()
    ))
}

/// The request of a row, with `authorization` as the header's whole value (none if `None`).
async fn send(app: &TestApp, op: &Operation, authorization: Option<&str>, body: &Value) -> Reply {
    let mut request = app
        .client
        .post(format!("{}{}", app.url, op.path))
        .json(body);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let response = request.send().await.expect("request sent");
    Reply {
        status: response.status(),
        body: response.json().await.expect("a JSON body"),
    }
}

/// Checks `reply` against `expect`; a mismatch is returned as one line of the failure report.
/// `hidden` are the ids and names the caller must not see in a 200.
fn check(op: &str, row: &str, expect: Expect, reply: &Reply, hidden: &[String]) -> Option<String> {
    let ok = match expect {
        Expect::Status(status) => {
            reply.status.as_u16() == status
                && reply.body["error"]["status"] == status
                && reply.body["error"]["detail"]
                    .as_str()
                    .is_some_and(|d| d.len() > 10)
        }
        Expect::Own => {
            let text = reply.body["data"].to_string();
            reply.status == 200 && !hidden.iter().any(|s| text.contains(s.as_str()))
        }
        Expect::NotFoundVerdict => {
            reply.status == 200
                && reply.body["data"] == json!({"valid": false, "code": "NOT_FOUND"})
        }
    };
    (!ok).then(|| {
        format!(
            "{op} / {row}: expected {expect:?}, got {} {}",
            reply.status, reply.body
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_every_kind_of_caller_as_expected() {
    let app = TestApp::start().await;

    // Callers shared by every operation.
    let (disabled_id, disabled) = app
        .root_key_id_with(
            &permissions::all_wildcards(false)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
        .await;
    app.call(
        "rootKeys.updateKey",
        json!({"keyId": disabled_id, "enabled": false}),
    )
    .await;
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    // Far enough ahead to still be in the future when a loaded machine creates it.
    let expires = now_ms() + 3_000;
    let expired = app
        .call(
            "rootKeys.createRootKey",
            json!({"permissions": permissions::all_wildcards(false), "expires": expires}),
        )
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let foreign = app.other_workspace_root_key().await;
    let regular = {
        let api = app.create_api().await;
        app.create_key(&api, json!({})).await.1
    };
    // Until it has expired.
    let left = u64::try_from(expires + 100 - now_ms()).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(left)).await;

    let missing: Vec<&str> = {
        let probe = world(&app, 0).await;
        ALL.iter()
            .filter(|op| fixture(op.name, &probe).is_none())
            .map(|op| op.name)
            .collect()
    };
    assert!(
        missing.is_empty(),
        "operations without a row in the permission matrix (add a fixture to tests/api/matrix.rs): {missing:?}"
    );

    let failures = std::cell::RefCell::new(Vec::new());
    let rows = std::cell::Cell::new(0);
    for (n, op) in ALL.iter().enumerate() {
        let w = world(&app, n + 1).await;
        let fixture = fixture(op.name, &w).unwrap();
        let body = &fixture.body;
        let bearer = |key: &str| format!("Bearer {key}");
        let row = async |name: &str, authorization: Option<String>, expect: Expect| {
            // Only the foreign caller may see nothing at all; a denied one may see `b`.
            let hidden = if name.starts_with("a foreign") {
                &w.secrets
            } else {
                &w.a_secrets
            };
            let reply = send(&app, op, authorization.as_deref(), body).await;
            rows.set(rows.get() + 1);
            failures
                .borrow_mut()
                .extend(check(op.name, name, expect, &reply, hidden));
            reply
        };
        use Expect::Status;
        row("no header", None, Status(400)).await;
        row(
            "malformed header",
            Some("Basic dXNlcjpwYXNz".into()),
            Status(400),
        )
        .await;
        let unknown = row(
            "unknown key",
            Some(bearer("unknown_root_key_0123456789abcdef")),
            Status(401),
        )
        .await;
        let as_root = row("a regular API key", Some(bearer(&regular)), Status(401)).await;
        if as_root.body["error"] != unknown.body["error"] {
            failures.borrow_mut().push(format!(
                "{}: a regular key is refused unlike an unknown one: {} vs {}",
                op.name, as_root.body, unknown.body
            ));
        }
        row("disabled root key", Some(bearer(&disabled)), Status(403)).await;
        row("expired root key", Some(bearer(&expired)), Status(403)).await;
        row(
            "a foreign workspace's root key",
            Some(bearer(&foreign)),
            fixture.foreign,
        )
        .await;

        let needed: Vec<String> = op
            .needs
            .iter()
            .map(|a| a.wildcard())
            .chain(fixture.extra.iter().map(|p| (*p).to_owned()))
            .collect();
        for action in op.needs {
            let lacking: Vec<String> = permissions::all_wildcards(false)
                .into_iter()
                .filter(|p| *p != action.wildcard())
                .collect();
            let key = root_key(&app, &lacking).await;
            row(
                &format!("lacking {}", action.wildcard()),
                Some(bearer(&key)),
                fixture.denied,
            )
            .await;
            if let Some(other) = for_other_resource(*action, &w) {
                let held: Vec<String> = needed
                    .iter()
                    .map(|p| {
                        if *p == action.wildcard() {
                            other.clone()
                        } else {
                            p.clone()
                        }
                    })
                    .collect();
                let key = root_key(&app, &held).await;
                row(
                    &format!("holding {other}"),
                    Some(bearer(&key)),
                    fixture.denied,
                )
                .await;
            }
        }
        let right = root_key(&app, &needed).await;
        let reply = send(&app, op, Some(&bearer(&right)), body).await;
        rows.set(rows.get() + 1);
        if reply.status != 200
            || (op.name == "keys.verifyKey" && reply.body["data"]["code"] != "VALID")
        {
            failures.borrow_mut().push(format!(
                "{} / holding {needed:?}: expected 200, got {} {}",
                op.name, reply.status, reply.body
            ));
        }
    }
    let (failures, rows) = (failures.into_inner(), rows.get());
    assert!(
        failures.is_empty(),
        "{} of {rows} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The bootstrap key still works: no row changed what it must not.
    assert_eq!(
        app.post_as(Some(ROOT_KEY), "rootKeys.listRootKeys", json!({}))
            .await
            .status,
        200
    );
}

/// A root key of the bootstrap workspace holding exactly `permissions`.
async fn root_key(app: &TestApp, permissions: &[String]) -> String {
    let data = app
        .call(
            "rootKeys.createRootKey",
            json!({"name": "matrix", "permissions": permissions}),
        )
        .await;
    data["key"].as_str().unwrap().to_owned()
}
