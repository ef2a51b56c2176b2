//! rootKeys.createRootKey, listRootKeys, deleteRootKey

use serde_json::json;

use crate::helpers::{TestApp, TestStorage};

#[tokio::test]
async fn create_list_and_delete() {
    let app = TestApp::start().await;
    let data = app
        .call(
            "rootKeys.createRootKey",
            json!({"name": "ci", "permissions": ["api.*.read_api", "api.*.create_api"]}),
        )
        .await;
    let (key_id, key) = (
        data["keyId"].as_str().unwrap(),
        data["key"].as_str().unwrap(),
    );
    assert!(key.starts_with("kwroot_") && key.len() > 40);

    let api = app
        .post_as(Some(key), "apis.createApi", json!({"name": "by-ci"}))
        .await
        .data()["apiId"]
        .clone();
    app.post_as(Some(key), "apis.getApi", json!({"apiId": api}))
        .await
        .data();
    app.post_as(Some(key), "apis.deleteApi", json!({"apiId": api}))
        .await
        .error(403, "/insufficient_permissions");

    let list = app.call("rootKeys.listRootKeys", json!({})).await;
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["keyId"] == json!(key_id))
        .expect("listed");
    assert_eq!(listed["name"], "ci");
    assert_eq!(
        listed["permissions"],
        json!(["api.*.create_api", "api.*.read_api"])
    );
    assert_eq!(listed["start"], json!(&key[.."kwroot_".len() + 4]));
    assert!(!list.to_string().contains(key), "never the secret");

    app.call("rootKeys.deleteRootKey", json!({"keyId": key_id}))
        .await;
    app.post_as(Some(key), "apis.getApi", json!({"apiId": api}))
        .await
        .error(401, "/key_not_found");
    app.post("rootKeys.deleteRootKey", json!({"keyId": key_id}))
        .await
        .error(404, "/root_key_not_found");
    let list = app.call("rootKeys.listRootKeys", json!({})).await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|k| k["keyId"] != json!(key_id))
    );
    assert_eq!(app.audit_events("rootKey.delete").await.len(), 1);
}

#[tokio::test]
async fn a_root_key_grants_only_what_it_holds() {
    let app = TestApp::start().await;
    let delegator = app
        .root_key_with(&["rootkey.*.create_root_key", "api.*.read_api"])
        .await;
    app.post_as(
        Some(&delegator),
        "rootKeys.createRootKey",
        json!({"permissions": ["api.*.read_api"]}),
    )
    .await
    .data();
    let detail = app
        .post_as(
            Some(&delegator),
            "rootKeys.createRootKey",
            json!({"permissions": ["api.*.read_api", "api.*.delete_api"]}),
        )
        .await
        .error(403, "/insufficient_permissions");
    assert!(
        detail.contains("'api.*.delete_api'") && !detail.contains("'api.*.read_api'"),
        "{detail}"
    );
    // Instance-level permissions are beyond every workspace's own root keys.
    let workspace_key = app.other_workspace_root_key().await;
    app.post_as(
        Some(&workspace_key),
        "rootKeys.createRootKey",
        json!({"permissions": ["workspace.*.create_workspace"]}),
    )
    .await
    .error(403, "/insufficient_permissions");
}

#[tokio::test]
async fn root_key_errors() {
    let app = TestApp::start().await;
    let reply = app
        .post(
            "rootKeys.createRootKey",
            json!({"permissions": ["api.*.delete_key", "apis.*.x", "api.delete_key"]}),
        )
        .await;
    reply.error(400, "/invalid_input");
    assert_eq!(
        reply.error_locations(),
        vec!["body.permissions[1]", "body.permissions[2]"]
    );
    app.post("rootKeys.createRootKey", json!({"permissions": []}))
        .await
        .error(400, "/invalid_input");
    app.post("rootKeys.createRootKey", json!({}))
        .await
        .error(400, "/invalid_input");
    app.post("rootKeys.listRootKeys", json!({"limit": 0}))
        .await
        .error(400, "/invalid_input");
    app.post("rootKeys.deleteRootKey", json!({"keyId": "key_unknown"}))
        .await
        .error(404, "/root_key_not_found");
    let plain = app.root_key_with(&["api.*.read_api"]).await;
    app.post_as(
        Some(&plain),
        "rootKeys.createRootKey",
        json!({"permissions": ["api.*.read_api"]}),
    )
    .await
    .error(403, "/insufficient_permissions");
    app.post_as(Some(&plain), "rootKeys.listRootKeys", json!({}))
        .await
        .error(403, "/insufficient_permissions");
    app.post_as(
        Some(&plain),
        "rootKeys.deleteRootKey",
        json!({"keyId": "key_unknown"}),
    )
    .await
    .error(403, "/insufficient_permissions");
    // Another workspace's root key cannot be deleted from here.
    let other = app.other_workspace_root_key().await;
    let theirs = app
        .post_as(Some(&other), "rootKeys.listRootKeys", json!({}))
        .await
        .data()[0]["keyId"]
        .clone();
    app.post("rootKeys.deleteRootKey", json!({"keyId": theirs}))
        .await
        .error(404, "/root_key_not_found");
    app.post_as(
        Some(&other),
        "apis.createApi",
        json!({"name": "still-works"}),
    )
    .await
    .data();
}

#[tokio::test]
async fn list_root_keys_paginates() {
    let app = TestApp::start().await;
    for _ in 0..4 {
        app.root_key_with(&["api.*.read_api"]).await;
    }
    let first = app.post("rootKeys.listRootKeys", json!({"limit": 3})).await;
    assert_eq!(first.data().as_array().unwrap().len(), 3);
    assert_eq!(first.body["pagination"]["hasMore"], json!(true));
    let cursor = first.body["pagination"]["cursor"].clone();
    let second = app
        .post(
            "rootKeys.listRootKeys",
            json!({"limit": 3, "cursor": cursor}),
        )
        .await;
    assert_eq!(
        second.data().as_array().unwrap().len(),
        2,
        "bootstrap key + 4 = 5"
    );
    assert_eq!(second.body["pagination"]["hasMore"], json!(false));
}

/// A server bootstrapped with `chosen` as its root key, and the `start` rootKeys.listRootKeys
/// shows for it.
async fn listed_bootstrap_start(chosen: &str) -> (TestApp, String) {
    let app = TestApp::start_with(TestStorage::new(), |c| {
        c.bootstrap_root_key = Some(chosen.to_owned())
    })
    .await;
    let list = app
        .post_as(Some(chosen), "rootKeys.listRootKeys", json!({}))
        .await;
    let keys = list.data().as_array().unwrap();
    assert_eq!(keys.len(), 1, "{}", list.body);
    assert!(!list.body.to_string().contains(chosen), "{}", list.body);
    let start = keys[0]["start"].as_str().unwrap().to_owned();
    (app, start)
}

#[tokio::test]
async fn a_chosen_bootstrap_key_shows_at_most_four_of_its_characters() {
    let generated_shape = format!("kwroot_{}", "3ZxPq7".repeat(7));
    for (chosen, start) in [
        // The report's two keys: listed whole, and 23 of 28 characters.
        ("abcdefghijklmnopqrstuvwxyz_", "abcd"),
        ("correct_horse_battery_staple", "corr"),
        // Underscores in a chosen key are part of its secret, whatever they look like.
        ("sk_live_0123456789abcdefgh", "sk_l"),
        ("________________", "____"),
        ("a_b_c_d_e_f_g_h_i_j", "a_b_"),
        ("no-underscore-at-all-in-here", "no-u"),
        // A chosen key of the shape keyward generates reads like a generated one.
        (generated_shape.as_str(), "kwroot_3ZxP"),
    ] {
        let (app, listed) = listed_bootstrap_start(chosen).await;
        assert_eq!(listed, start, "start of {chosen:?}");
        app.server.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn a_database_of_an_earlier_version_loses_the_long_starts() {
    use sqlx::Connection;

    let chosen = "correct_horse_battery_staple";
    let (app, _) = listed_bootstrap_start(chosen).await;
    let generated = app
        .post_as(
            Some(chosen),
            "rootKeys.createRootKey",
            json!({"permissions": ["api.*.read_api"]}),
        )
        .await
        .data()["keyId"]
        .clone();
    let TestApp {
        server, storage, ..
    } = app;
    server.shutdown().await.unwrap();

    // What an earlier version left: the start it computed, and no record of the migration that
    // bounds it (the schema is otherwise the same). Each backend has its own migration 0003.
    let mut conn = storage.inspect().await;
    sqlx::query("update root_keys set start = 'correct_horse_battery_s' where id != $1")
        .bind(generated.as_str().unwrap())
        .execute(&mut conn)
        .await
        .unwrap();
    let generated_start: String = sqlx::query_scalar("select start from root_keys where id = $1")
        .bind(generated.as_str().unwrap())
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let forgotten =
        sqlx::query("delete from _sqlx_migrations where description = 'root keys bounded start'")
            .execute(&mut conn)
            .await
            .unwrap();
    assert_eq!(forgotten.rows_affected(), 1, "the migration is named so");
    conn.close().await.unwrap();

    let app = TestApp::start_with(storage, |c| c.bootstrap_root_key = None).await;
    let list = app
        .post_as(Some(chosen), "rootKeys.listRootKeys", json!({}))
        .await;
    let starts: Vec<(&str, &str)> = list
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["keyId"].as_str().unwrap(), k["start"].as_str().unwrap()))
        .collect();
    assert_eq!(starts.len(), 2);
    for (id, start) in starts {
        if id == generated {
            assert_eq!(start, generated_start, "a generated key's start is kept");
        } else {
            assert_eq!(start, "corr");
        }
    }
}

/// A new root key of the bootstrap workspace holding `permissions`: (keyId, key).
async fn root_key(app: &TestApp, permissions: &[&str]) -> (String, String) {
    let data = app
        .call(
            "rootKeys.createRootKey",
            json!({"permissions": permissions}),
        )
        .await;
    (
        data["keyId"].as_str().unwrap().to_owned(),
        data["key"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn deleting_a_root_key_needs_every_permission_it_holds() {
    let app = TestApp::start().await;
    let bootstrap_id = app.call("rootKeys.listRootKeys", json!({})).await[0]["keyId"].clone();
    let (_, narrow) = root_key(&app, &["rootkey.*.delete_root_key"]).await;

    // The report: a key holding only delete_root_key deleted the only all-powerful key.
    let reply = app
        .post_as(
            Some(&narrow),
            "rootKeys.deleteRootKey",
            json!({"keyId": bootstrap_id}),
        )
        .await;
    let detail = reply.error(403, "/insufficient_permissions");
    assert!(
        detail.contains("'api.*.create_api'")
            && detail.contains("'workspace.*.create_workspace'")
            && !detail.contains("'rootkey.*.delete_root_key'"),
        "names exactly what is missing: {detail}"
    );
    app.call("apis.createApi", json!({"name": "still-in-charge"}))
        .await;
    assert!(app.audit_events("rootKey.delete").await.is_empty());

    // Within its own permissions it may delete: the same, fewer, or narrower ones.
    let (same, _) = root_key(&app, &["rootkey.*.delete_root_key"]).await;
    let (deleter_id, deleter) = root_key(
        &app,
        &[
            "rootkey.*.delete_root_key",
            "api.*.read_api",
            "api.api_1.read_key",
        ],
    )
    .await;
    let (narrower, _) = root_key(&app, &["api.api_123.read_api"]).await;
    for target in [&same, &narrower] {
        app.post_as(
            Some(&deleter),
            "rootKeys.deleteRootKey",
            json!({"keyId": target}),
        )
        .await
        .data();
    }
    // A specific permission does not cover its wildcard, nor one API another.
    for (permissions, missing) in [
        (
            &["api.*.read_api", "api.*.create_api"][..],
            "'api.*.create_api'",
        ),
        (&["api.*.read_key"][..], "'api.*.read_key'"),
        (&["api.api_2.read_key"][..], "'api.api_2.read_key'"),
    ] {
        let (target, target_key) = root_key(&app, permissions).await;
        let detail = app
            .post_as(
                Some(&deleter),
                "rootKeys.deleteRootKey",
                json!({"keyId": target}),
            )
            .await
            .error(403, "/insufficient_permissions");
        assert!(
            detail.contains(missing) && detail.contains(&target),
            "{permissions:?}: {detail}"
        );
        assert!(
            !detail.contains("'api.*.read_api'"),
            "what it holds is not listed: {detail}"
        );
        app.post_as(Some(&target_key), "rootKeys.listRootKeys", json!({}))
            .await
            .error(403, "/insufficient_permissions");
    }

    // A key may delete itself (it holds its own permissions); it is refused from then on.
    app.post_as(
        Some(&deleter),
        "rootKeys.deleteRootKey",
        json!({"keyId": deleter_id}),
    )
    .await
    .data();
    app.post_as(
        Some(&deleter),
        "rootKeys.deleteRootKey",
        json!({"keyId": same}),
    )
    .await
    .error(401, "/key_not_found");
    assert_eq!(app.audit_events("rootKey.delete").await.len(), 3);

    // Another workspace's all-powerful key sees no root key of this one.
    let other = app.other_workspace_root_key().await;
    app.post_as(
        Some(&other),
        "rootKeys.deleteRootKey",
        json!({"keyId": bootstrap_id}),
    )
    .await
    .error(404, "/root_key_not_found");
    app.call("apis.createApi", json!({"name": "still-there"}))
        .await;
}
