//! ratelimit.*: the standalone limiter over HTTP — Unkey's sliding window, costs, overrides,
//! namespaces created on first use, multi-limit all-or-nothing, permissions, workspaces, metrics
//! and counters that survive a graceful restart.
//!
//! Servers here run on a manual clock (`ServeConfig::clock`, which no request can reach), so a
//! test decides which window it is in.

use keyward_core::time::Clock;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::{TestApp, TestStorage};

/// 2026-03-14T00:00:00Z: the start of a window of every length used here.
pub const T0: i64 = 1_773_446_400_000;

pub async fn app_at(clock: &Clock) -> TestApp {
    app_on(TestStorage::new(), clock).await
}

pub async fn app_on(storage: TestStorage, clock: &Clock) -> TestApp {
    let clock = clock.clone();
    TestApp::start_with(storage, move |c| c.clock = clock).await
}

/// POSTs every body at once with the bootstrap root key; the replies' `data` (asserting 200),
/// in the bodies' order.
pub async fn all_at_once(app: &TestApp, operation: &str, bodies: Vec<Value>) -> Vec<Value> {
    let mut set = JoinSet::new();
    for (i, body) in bodies.into_iter().enumerate() {
        let request = app
            .client
            .post(format!("{}/v2/{operation}", app.url))
            .bearer_auth(crate::helpers::ROOT_KEY)
            .json(&body);
        set.spawn(async move {
            let response = request.send().await.expect("request sent");
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.expect("JSON body");
            (i, body["data"].clone())
        });
    }
    let mut replies = vec![Value::Null; set.len()];
    while let Some(done) = set.join_next().await {
        let (i, data) = done.unwrap();
        replies[i] = data;
    }
    replies
}

fn limit(namespace: &str, identifier: &str, limit: i64, duration: i64, cost: Option<i64>) -> Value {
    let mut body = json!({"namespace": namespace, "identifier": identifier, "limit": limit, "duration": duration});
    if let Some(cost) = cost {
        body["cost"] = json!(cost);
    }
    body
}

async fn check(app: &TestApp, namespace: &str, identifier: &str, cost: Option<i64>) -> Value {
    app.call(
        "ratelimit.limit",
        limit(namespace, identifier, 10, 1000, cost),
    )
    .await
}

#[tokio::test]
async fn the_sliding_window_admits_and_reports_as_unkey() {
    let clock = Clock::manual(T0);
    let app = app_at(&clock).await;
    for left in (0..10).rev() {
        let data = check(&app, "api", "user_1", None).await;
        assert_eq!(
            data,
            json!({"limit": 10, "remaining": left, "reset": T0 + 1000, "success": true})
        );
    }
    let refused = check(&app, "api", "user_1", None).await;
    assert_eq!(
        refused,
        json!({"limit": 10, "remaining": 0, "reset": T0 + 1000, "success": false})
    );
    // A quarter into the next window, the full previous one weighs 10 × 0.75 = 7.5 → 7.
    clock.set(T0 + 1250);
    for left in [2, 1, 0] {
        let data = check(&app, "api", "user_1", None).await;
        assert_eq!(
            (data["success"].clone(), data["remaining"].clone()),
            (json!(true), json!(left))
        );
        assert_eq!(data["reset"], T0 + 2000);
    }
    assert_eq!(check(&app, "api", "user_1", None).await["success"], false);
    // Other identifiers count apart.
    assert_eq!(check(&app, "api", "user_2", None).await["remaining"], 9);
    // Two windows later nothing weighs any more.
    clock.set(T0 + 3000);
    assert_eq!(check(&app, "api", "user_1", None).await["remaining"], 9);
}

#[tokio::test]
async fn costs_above_one_and_a_cost_of_zero() {
    let clock = Clock::manual(T0);
    let app = app_at(&clock).await;
    for left in [7, 4, 1] {
        assert_eq!(check(&app, "api", "u", Some(3)).await["remaining"], left);
    }
    let refused = check(&app, "api", "u", Some(3)).await;
    assert_eq!(
        (refused["success"].clone(), refused["remaining"].clone()),
        (json!(false), json!(0))
    );
    // A refused call charged nothing: 1 is still left.
    assert_eq!(check(&app, "api", "u", Some(0)).await["remaining"], 1);
    assert_eq!(check(&app, "api", "u", Some(1)).await["remaining"], 0);
    // At the limit a cost of 0 still passes (effective + 0 ≤ limit, as in Unkey).
    let probe = check(&app, "api", "u", Some(0)).await;
    assert_eq!(
        (probe["success"].clone(), probe["remaining"].clone()),
        (json!(true), json!(0))
    );
    // A cost larger than the limit never passes.
    clock.set(T0 + 5000);
    assert_eq!(check(&app, "api", "u", Some(11)).await["success"], false);
}

/// A fresh window of limit L admits exactly L of N > L calls made at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_window_admits_exactly_its_limit_of_concurrent_calls() {
    let clock = Clock::manual(T0);
    let app = app_at(&clock).await;
    // The namespace exists first, so the calls race on the counter, not on its creation.
    check(&app, "burst", "warmup", Some(0)).await;
    let bodies = (0..60)
        .map(|_| limit("burst", "user_1", 25, 60_000, None))
        .collect();
    let answers = all_at_once(&app, "ratelimit.limit", bodies).await;
    let admitted = answers.iter().filter(|a| a["success"] == true).count();
    assert_eq!(admitted, 25);
    let mut remaining: Vec<i64> = answers
        .iter()
        .filter(|a| a["success"] == true)
        .map(|a| a["remaining"].as_i64().unwrap())
        .collect();
    remaining.sort_unstable();
    assert_eq!(
        remaining,
        (0..25).collect::<Vec<_>>(),
        "each admitted call saw its own count"
    );
}

#[tokio::test]
async fn overrides_replace_the_request_exact_before_wildcards() {
    let clock = Clock::manual(T0);
    let app = app_at(&clock).await;
    check(&app, "api", "someone", Some(0)).await;
    let set = |identifier: &str, limit: i64| {
        app.call(
            "ratelimit.setOverride",
            json!({"namespace": "api", "identifier": identifier, "limit": limit, "duration": 60_000}),
        )
    };
    let wildcard = set("*@acme.com", 3).await["overrideId"]
        .as_str()
        .unwrap()
        .to_owned();
    let exact = set("boss@acme.com", 100).await["overrideId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(wildcard.starts_with("rlor_") && exact != wildcard);
    // Setting it again changes it in place.
    assert_eq!(set("*@acme.com", 2).await["overrideId"], wildcard.as_str());

    let worker = check(&app, "api", "worker@acme.com", None).await;
    assert_eq!(
        worker,
        json!({"limit": 2, "remaining": 1, "reset": T0 + 60_000, "success": true, "overrideId": wildcard})
    );
    let boss = check(&app, "api", "boss@acme.com", None).await;
    assert_eq!(
        (boss["limit"].clone(), boss["overrideId"].clone()),
        (json!(100), json!(exact))
    );
    let other = check(&app, "api", "someone@else.org", None).await;
    assert_eq!(other["limit"], 10);
    assert!(other.get("overrideId").is_none(), "{other}");

    let got = app
        .call(
            "ratelimit.getOverride",
            json!({"namespace": "api", "identifier": "x@acme.com"}),
        )
        .await;
    assert_eq!(
        got,
        json!({"overrideId": wildcard, "duration": 60_000, "identifier": "*@acme.com", "limit": 2})
    );
    let listed = app
        .post(
            "ratelimit.listOverrides",
            json!({"namespace": "api", "limit": 1}),
        )
        .await;
    assert_eq!(listed.data().as_array().unwrap().len(), 1);
    assert_eq!(listed.body["pagination"]["hasMore"], true);
    let rest = app
        .call(
            "ratelimit.listOverrides",
            json!({"namespace": "api", "cursor": listed.body["pagination"]["cursor"]}),
        )
        .await;
    assert_eq!(rest.as_array().unwrap().len(), 1);

    // Deleting the exact override hands its identifier to the pattern at once.
    app.call(
        "ratelimit.deleteOverride",
        json!({"namespace": "api", "identifier": "boss@acme.com"}),
    )
    .await;
    assert_eq!(
        check(&app, "api", "boss@acme.com", None).await["overrideId"],
        wildcard.as_str()
    );
    // deleteOverride matches literally: an identifier the pattern covers is not an override.
    let detail = app
        .post(
            "ratelimit.deleteOverride",
            json!({"namespace": "api", "identifier": "boss@acme.com"}),
        )
        .await
        .error(404, "/ratelimit_override_not_found");
    assert!(detail.contains("boss@acme.com"), "{detail}");
    app.call(
        "ratelimit.deleteOverride",
        json!({"namespace": "api", "identifier": "*@acme.com"}),
    )
    .await;
    assert_eq!(
        check(&app, "api", "worker@acme.com", None).await["limit"],
        10
    );
    app.post(
        "ratelimit.getOverride",
        json!({"namespace": "api", "identifier": "worker@acme.com"}),
    )
    .await
    .error(404, "/ratelimit_override_not_found");
    // A limit of 0 blocks.
    set("blocked", 0).await;
    assert_eq!(check(&app, "api", "blocked", None).await["success"], false);

    for event in ["ratelimit.set_override", "ratelimit.delete_override"] {
        let events = app.audit_events(event).await;
        assert!(!events.is_empty(), "{event}");
        assert_eq!(
            events[0]["targets"][0]["type"], "ratelimitNamespace",
            "{event}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_are_created_on_first_use_only_when_the_root_key_may() {
    let clock = Clock::manual(T0);
    let app = app_at(&clock).await;
    let only_limit = app.root_key_with(&["ratelimit.*.limit"]).await;
    let detail = app
        .post_as(
            Some(&only_limit),
            "ratelimit.limit",
            limit("fresh", "u", 5, 1000, None),
        )
        .await
        .error(403, "/insufficient_permissions");
    assert!(detail.contains("create_namespace"), "{detail}");
    app.post(
        "ratelimit.getOverride",
        json!({"namespace": "fresh", "identifier": "u"}),
    )
    .await
    .error(404, "/ratelimit_namespace_not_found");
    // Creating without being allowed to limit in it creates nothing either.
    let only_create = app.root_key_with(&["ratelimit.*.create_namespace"]).await;
    app.post_as(
        Some(&only_create),
        "ratelimit.limit",
        limit("fresh", "u", 5, 1000, None),
    )
    .await
    .error(403, "/insufficient_permissions");
    assert!(
        app.audit_events("ratelimitNamespace.create")
            .await
            .is_empty()
    );

    let both = app
        .root_key_with(&["ratelimit.*.limit", "ratelimit.*.create_namespace"])
        .await;
    let first = app
        .post_as(
            Some(&both),
            "ratelimit.limit",
            limit("fresh", "u", 5, 1000, None),
        )
        .await;
    assert_eq!(first.data()["remaining"], 4);
    let events = app.audit_events("ratelimitNamespace.create").await;
    assert_eq!(events.len(), 1);
    let namespace_id = events[0]["targets"][0]["id"].as_str().unwrap().to_owned();
    assert!(namespace_id.starts_with("rlns_"), "{namespace_id}");
    // Now it exists, `limit` alone will do, by name or by id (one counter either way).
    let by_id = app
        .post_as(
            Some(&only_limit),
            "ratelimit.limit",
            limit(&namespace_id, "u", 5, 1000, None),
        )
        .await;
    assert_eq!(by_id.data()["remaining"], 3);
    // A grant naming this namespace works; one naming another does not.
    let scoped = app
        .root_key_with(&[&format!("ratelimit.{namespace_id}.limit")])
        .await;
    let answer = app
        .post_as(
            Some(&scoped),
            "ratelimit.limit",
            limit("fresh", "u", 5, 1000, None),
        )
        .await;
    assert_eq!(answer.data()["remaining"], 2);
    let elsewhere = app.root_key_with(&["ratelimit.rlns_other.limit"]).await;
    app.post_as(
        Some(&elsewhere),
        "ratelimit.limit",
        limit("fresh", "u", 5, 1000, None),
    )
    .await
    .error(403, "/insufficient_permissions");
    // Concurrent first uses of one name make one namespace.
    let bodies = (0..8)
        .map(|i| limit("raced", &format!("u{i}"), 5, 1000, None))
        .collect();
    for answer in all_at_once(&app, "ratelimit.limit", bodies).await {
        assert_eq!(answer["remaining"], 4);
    }
    assert_eq!(app.audit_events("ratelimitNamespace.create").await.len(), 2);
}

#[tokio::test]
async fn multi_limit_charges_all_or_nothing() {
    let clock = Clock::manual(T0);
    let app = app_at(&clock).await;
    let both = |cost_b: i64| {
        json!([
            {"namespace": "a", "identifier": "u", "limit": 10, "duration": 60_000},
            {"namespace": "b", "identifier": "u", "limit": 3, "duration": 1000, "cost": cost_b},
        ])
    };
    let first = app.call("ratelimit.multiLimit", both(1)).await;
    assert_eq!(
        first,
        json!({"passed": true, "limits": [
            {"namespace": "a", "identifier": "u", "limit": 10, "remaining": 9, "reset": T0 + 60_000, "passed": true},
            {"namespace": "b", "identifier": "u", "limit": 3, "remaining": 2, "reset": T0 + 1000, "passed": true},
        ]})
    );
    // b cannot take 3 more: nothing is charged, a reports what it has without this call.
    let refused = app.call("ratelimit.multiLimit", both(3)).await;
    assert_eq!(refused["passed"], false);
    assert_eq!(refused["limits"][0]["passed"], true);
    assert_eq!(refused["limits"][0]["remaining"], 9);
    assert_eq!(refused["limits"][1]["passed"], false);
    assert_eq!(refused["limits"][1]["remaining"], 0);
    let probe = app
        .call("ratelimit.limit", json!({"namespace": "a", "identifier": "u", "limit": 10, "duration": 60_000, "cost": 0}))
        .await;
    assert_eq!(
        probe["remaining"], 9,
        "the refused multiLimit charged nothing"
    );
    // The same counter twice in one call counts both.
    let twice = app
        .call(
            "ratelimit.multiLimit",
            json!([
                {"namespace": "b", "identifier": "u", "limit": 3, "duration": 1000, "cost": 1},
                {"namespace": "b", "identifier": "u", "limit": 3, "duration": 1000, "cost": 1},
            ]),
        )
        .await;
    assert_eq!(twice["limits"][1]["remaining"], 0);
    // Without the permission for one namespace, nothing is counted or created.
    let a_only = app.root_key_with(&["ratelimit.*.limit"]).await;
    app.post_as(
        Some(&a_only),
        "ratelimit.multiLimit",
        json!([
            {"namespace": "a", "identifier": "u", "limit": 10, "duration": 60_000},
            {"namespace": "new", "identifier": "u", "limit": 3, "duration": 1000},
        ]),
    )
    .await
    .error(403, "/insufficient_permissions");
    let probe = app
        .call("ratelimit.limit", json!({"namespace": "a", "identifier": "u", "limit": 10, "duration": 60_000, "cost": 0}))
        .await;
    assert_eq!(probe["remaining"], 9, "the refused call counted nothing");
    app.post(
        "ratelimit.getOverride",
        json!({"namespace": "new", "identifier": "u"}),
    )
    .await
    .error(404, "/ratelimit_namespace_not_found");
}

#[tokio::test]
async fn requests_out_of_bounds_are_refused() {
    let app = TestApp::start().await;
    for (body, location) in [
        (limit("", "u", 1, 1000, None), "body.namespace"),
        (limit("a", "", 1, 1000, None), "body.identifier"),
        (limit("a", "u", 0, 1000, None), "body.limit"),
        (limit("a", "u", 1, 999, None), "body.duration"),
        (limit("a", "u", 1, 2_592_000_001, None), "body.duration"),
        (limit("a", "u", 1, 1000, Some(-1)), "body.cost"),
    ] {
        let reply = app.post("ratelimit.limit", body).await;
        reply.error(400, "/invalid_input");
        assert_eq!(reply.error_locations(), vec![location.to_owned()]);
    }
    let reply = app.post("ratelimit.multiLimit", json!([])).await;
    reply.error(400, "/invalid_input");
    assert_eq!(reply.error_locations(), vec!["body".to_owned()]);
    let many: Vec<Value> = (0..101).map(|_| limit("a", "u", 1, 1000, None)).collect();
    let reply = app.post("ratelimit.multiLimit", json!(many)).await;
    assert_eq!(reply.error_locations(), vec!["body".to_owned()]);
    let reply = app
        .post(
            "ratelimit.multiLimit",
            json!([
                limit("a", "u", 1, 1000, None),
                limit("a", "u", 0, 1000, None)
            ]),
        )
        .await;
    assert_eq!(reply.error_locations(), vec!["body[1].limit".to_owned()]);
    let reply = app
        .post("ratelimit.multiLimit", json!({"namespace": "a"}))
        .await;
    reply.error(400, "/invalid_input");
    for (operation, body, location) in [
        (
            "ratelimit.setOverride",
            json!({"namespace": "a", "identifier": "u", "limit": -1, "duration": 1000}),
            "body.limit",
        ),
        (
            "ratelimit.setOverride",
            json!({"namespace": "a", "identifier": "u", "limit": 1, "duration": 10}),
            "body.duration",
        ),
        (
            "ratelimit.listOverrides",
            json!({"namespace": "a", "limit": 101}),
            "body.limit",
        ),
        (
            "ratelimit.getOverride",
            json!({"namespace": "a", "identifier": ""}),
            "body.identifier",
        ),
        (
            "ratelimit.deleteOverride",
            json!({"namespace": "", "identifier": "u"}),
            "body.namespace",
        ),
    ] {
        let reply = app.post(operation, body).await;
        reply.error(400, "/invalid_input");
        assert_eq!(
            reply.error_locations(),
            vec![location.to_owned()],
            "{operation}"
        );
    }
    // Overrides of a namespace that does not exist.
    for operation in ["ratelimit.getOverride", "ratelimit.deleteOverride"] {
        let detail = app
            .post(operation, json!({"namespace": "nope", "identifier": "u"}))
            .await
            .error(404, "/ratelimit_namespace_not_found");
        assert!(detail.contains("nope"), "{detail}");
    }
    app.post(
        "ratelimit.setOverride",
        json!({"namespace": "nope", "identifier": "u", "limit": 1, "duration": 1000}),
    )
    .await
    .error(404, "/ratelimit_namespace_not_found");
    app.post("ratelimit.listOverrides", json!({"namespace": "nope"}))
        .await
        .error(404, "/ratelimit_namespace_not_found");
}

/// Each operation allowed with its permission, refused without (403), and blind to another
/// workspace's namespaces.
#[tokio::test]
async fn permissions_and_workspaces() {
    let clock = Clock::manual(T0);
    let app = app_at(&clock).await;
    check(&app, "api", "u", Some(0)).await;
    let set = json!({"namespace": "api", "identifier": "vip", "limit": 50, "duration": 1000});
    let get = json!({"namespace": "api", "identifier": "vip"});
    let list = json!({"namespace": "api"});
    let workspace = app.workspace_id().await;
    let none = app.root_key_with(&["api.*.read_api"]).await;
    for (operation, body, permission) in [
        (
            "ratelimit.limit",
            limit("api", "u", 10, 1000, None),
            "ratelimit.*.limit",
        ),
        (
            "ratelimit.multiLimit",
            json!([limit("api", "u", 10, 1000, None)]),
            "ratelimit.*.limit",
        ),
        (
            "ratelimit.setOverride",
            set.clone(),
            "ratelimit.*.set_override",
        ),
        (
            "ratelimit.getOverride",
            get.clone(),
            "ratelimit.*.read_override",
        ),
        (
            "ratelimit.listOverrides",
            list.clone(),
            "ratelimit.*.read_override",
        ),
        (
            "ratelimit.deleteOverride",
            get.clone(),
            "ratelimit.*.delete_override",
        ),
    ] {
        app.post_as(Some(&none), operation, body.clone())
            .await
            .error(403, "/insufficient_permissions");
        let allowed = app.root_key_with(&[permission]).await;
        let reply = app.post_as(Some(&allowed), operation, body.clone()).await;
        reply.data();
        if operation == "ratelimit.deleteOverride" {
            app.call("ratelimit.setOverride", set.clone()).await;
        }
    }
    // The URN form of read_override, which Unkey's newest keys carry.
    let namespace_id = app.audit_events("ratelimitNamespace.create").await[0]["targets"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let urn = app
        .root_key_with(&[&format!(
            "unkey:v1:{workspace}:ratelimits/namespaces/{namespace_id}/overrides/*#read_override"
        )])
        .await;
    app.post_as(Some(&urn), "ratelimit.getOverride", get.clone())
        .await
        .data();
    // Another workspace sees none of it: its "api" is a namespace of its own.
    let other = app.other_workspace_root_key().await;
    for (operation, body) in [
        ("ratelimit.getOverride", get.clone()),
        ("ratelimit.listOverrides", list.clone()),
        ("ratelimit.setOverride", set.clone()),
        ("ratelimit.deleteOverride", get.clone()),
    ] {
        app.post_as(Some(&other), operation, body)
            .await
            .error(404, "/ratelimit_namespace_not_found");
    }
    app.post_as(
        Some(&other),
        "ratelimit.getOverride",
        json!({"namespace": namespace_id, "identifier": "vip"}),
    )
    .await
    .error(404, "/ratelimit_namespace_not_found");
    let theirs = app
        .post_as(
            Some(&other),
            "ratelimit.limit",
            limit("api", "vip", 10, 1000, None),
        )
        .await;
    assert_eq!(theirs.data()["limit"], 10, "no override of ours applies");
    assert_eq!(theirs.data()["remaining"], 9, "and no count of ours");
}

#[tokio::test]
async fn metrics_count_admitted_and_rejected_per_namespace() {
    let clock = Clock::manual(T0);
    let app = app_at(&clock).await;
    for _ in 0..12 {
        check(&app, "api", "u", None).await;
    }
    let id = app.audit_events("ratelimitNamespace.create").await[0]["targets"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.metric(&format!(
            "keyward_ratelimit_decisions_total{{namespace=\"{id}\",outcome=\"admitted\"}}"
        ))
        .await,
        10
    );
    assert_eq!(
        app.metric(&format!(
            "keyward_ratelimit_decisions_total{{namespace=\"{id}\",outcome=\"rejected\"}}"
        ))
        .await,
        2
    );
    assert_eq!(app.metric("keyward_ratelimit_counters").await, 1);
}

/// A limit of a day must not start over because the server was redeployed; a window of a
/// second is not kept (it is over by the time a new server serves).
#[tokio::test]
async fn long_windows_survive_a_graceful_restart() {
    let clock = Clock::manual(T0 + 3_600_000);
    let app = app_at(&clock).await;
    let daily = limit("daily", "u", 1000, 86_400_000, Some(400));
    let short = limit("short", "u", 10, 1000, Some(4));
    assert_eq!(
        app.call("ratelimit.limit", daily.clone()).await["remaining"],
        600
    );
    assert_eq!(
        app.call("ratelimit.limit", short.clone()).await["remaining"],
        6
    );
    let TestApp {
        server, storage, ..
    } = app;
    server.shutdown().await.expect("clean shutdown");

    let app = app_on(storage, &clock).await;
    assert_eq!(
        app.call("ratelimit.limit", daily.clone()).await["remaining"],
        200
    );
    assert_eq!(app.call("ratelimit.limit", short).await["remaining"], 6);
    // A second restart keeps what the first one restored and what came since.
    let TestApp {
        server, storage, ..
    } = app;
    server.shutdown().await.expect("clean shutdown");
    let app = app_on(storage, &clock).await;
    let last = app.call("ratelimit.limit", daily).await;
    assert_eq!(
        (last["success"].clone(), last["remaining"].clone()),
        (json!(false), json!(0))
    );
}
