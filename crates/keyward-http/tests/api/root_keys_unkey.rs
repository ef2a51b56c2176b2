//! Unkey's `rootKeys` group (createKey, listKeys, updateKey, rerollKey, deleteKey), URN
//! permissions on root keys, and the upgrade of an earlier version's all-powerful keys.

use serde_json::{Value, json};

use crate::helpers::TestApp;

fn listed<'a>(list: &'a Value, key_id: &str) -> Option<&'a Value> {
    list.as_array()
        .unwrap()
        .iter()
        .find(|k| k["keyId"] == key_id)
}

#[tokio::test]
async fn the_unkey_names_create_list_update_reroll_and_delete() {
    let app = TestApp::start().await;
    let created = app
        .call(
            "rootKeys.createKey",
            json!({"permissions": ["api.*.create_api", "api.*.read_api"]}),
        )
        .await;
    let (key_id, key) = (
        created["keyId"].as_str().unwrap().to_owned(),
        created["key"].as_str().unwrap().to_owned(),
    );
    let list = app.call("rootKeys.listKeys", json!({})).await;
    let entry = listed(&list, &key_id).unwrap();
    assert_eq!(
        entry,
        &json!({
            "keyId": key_id,
            "name": null,
            "start": &key[.."kwroot_".len() + 4],
            "end": "",
            "enabled": true,
            "createdAt": entry["createdAt"],
            "lastUsedAt": 0,
            "expires": null,
            "permissions": ["api.*.create_api", "api.*.read_api"],
        })
    );
    app.post_as(Some(&key), "apis.createApi", json!({"name": "by-key"}))
        .await
        .data();
    let used = app.call("rootKeys.listKeys", json!({})).await;
    assert!(
        listed(&used, &key_id).unwrap()["lastUsedAt"]
            .as_i64()
            .unwrap()
            > 0
    );

    // Disabled: refused with 403 from its next request; enabled again, it works.
    app.call(
        "rootKeys.updateKey",
        json!({"keyId": key_id, "enabled": false, "name": "paused"}),
    )
    .await;
    app.post_as(Some(&key), "apis.createApi", json!({"name": "xyz"}))
        .await
        .error(403, "/key_disabled");
    let list = app.call("rootKeys.listKeys", json!({})).await;
    assert_eq!(listed(&list, &key_id).unwrap()["enabled"], false);
    assert_eq!(listed(&list, &key_id).unwrap()["name"], "paused");
    app.call(
        "rootKeys.updateKey",
        json!({"keyId": key_id, "enabled": true, "name": null, "permissions": ["api.*.read_api"]}),
    )
    .await;
    app.post_as(Some(&key), "apis.createApi", json!({"name": "xyz"}))
        .await
        .error(403, "/insufficient_permissions");

    // Reroll: the new key holds the same; `null` leaves the old one as it is, 0 ends it now.
    let rerolled = app
        .call(
            "rootKeys.rerollKey",
            json!({"keyId": key_id, "expiration": null}),
        )
        .await;
    let new_key = rerolled["key"].as_str().unwrap().to_owned();
    assert_ne!(new_key, key);
    let api = app.create_api().await;
    for k in [&key, &new_key] {
        app.post_as(Some(k), "apis.getApi", json!({"apiId": api}))
            .await
            .data();
    }
    let list = app.call("rootKeys.listKeys", json!({})).await;
    let new_entry = listed(&list, rerolled["keyId"].as_str().unwrap()).unwrap();
    assert_eq!(new_entry["permissions"], json!(["api.*.read_api"]));
    app.call(
        "rootKeys.rerollKey",
        json!({"keyId": key_id, "expiration": 0}),
    )
    .await;
    let detail = app
        .post_as(Some(&key), "apis.getApi", json!({"apiId": api}))
        .await
        .error(403, "/authorization/forbidden");
    assert!(detail.contains("expired"), "{detail}");
    app.post("rootKeys.rerollKey", json!({"keyId": key_id}))
        .await
        .error(400, "/invalid_input");

    app.call("rootKeys.deleteKey", json!({"keyId": key_id}))
        .await;
    app.post_as(Some(&key), "apis.getApi", json!({"apiId": api}))
        .await
        .error(401, "/key_not_found");
    for operation in ["rootKeys.deleteKey", "rootKeys.updateKey"] {
        app.post(operation, json!({"keyId": key_id}))
            .await
            .error(404, "/root_key_not_found");
    }
    for event in [
        "rootKey.create",
        "rootKey.update",
        "rootKey.reroll",
        "rootKey.delete",
    ] {
        assert!(!app.audit_events(event).await.is_empty(), "{event}");
    }
}

#[tokio::test]
async fn urn_permissions_work_on_root_keys_as_tuples_do() {
    let app = TestApp::start().await;
    let ws = app.workspace_id().await;
    let api = app.create_api().await;
    let other_api = app.create_api().await;
    let (_, key) = app.create_key(&api, json!({})).await;
    let (_, other_key) = app.create_key(&other_api, json!({})).await;
    let verifier = app
        .root_key_with(&[&format!("unkey:v1:{ws}:keyspaces/{api}/keys/*#verify_key")])
        .await;
    let verify = |k: String| json!({"key": k});
    let data = app
        .post_as(Some(&verifier), "keys.verifyKey", verify(key.clone()))
        .await;
    assert_eq!(data.data()["code"], "VALID");
    let data = app
        .post_as(Some(&verifier), "keys.verifyKey", verify(other_key))
        .await;
    assert_eq!(data.data()["code"], "NOT_FOUND");

    // rootKeys/*#write creates root keys, within what it holds.
    let writer = app
        .root_key_with(&[
            &format!("unkey:v1:{ws}:rootKeys/*#write"),
            &format!("unkey:v1:{ws}:keyspaces/*/keys/*#read_key"),
        ])
        .await;
    // A URN covers the tuple of the same meaning, and narrower URNs.
    for permission in [
        "api.*.read_key".to_string(),
        format!("api.{api}.read_key"),
        format!("unkey:v1:{ws}:keyspaces/{api}/keys/*#read_key"),
    ] {
        app.post_as(
            Some(&writer),
            "rootKeys.createKey",
            json!({"permissions": [permission]}),
        )
        .await
        .data();
    }
    for permission in [
        "api.*.delete_key".to_string(),
        format!("unkey:v1:{ws}:keyspaces/**#read_key"),
        "unkey:v1:ws_elsewhere:keyspaces/*/keys/*#read_key".to_string(),
    ] {
        let detail = app
            .post_as(
                Some(&writer),
                "rootKeys.createKey",
                json!({"permissions": [&permission]}),
            )
            .await
            .error(403, "/insufficient_permissions");
        assert!(detail.contains(&permission), "{detail}");
    }
    // Not even the all-powerful key grants what names another workspace.
    app.post(
        "rootKeys.createKey",
        json!({"permissions": ["unkey:v1:ws_elsewhere:**#*"]}),
    )
    .await
    .error(403, "/insufficient_permissions");
    // Malformed URNs are a 400 naming them.
    let reply = app
        .post(
            "rootKeys.createKey",
            json!({"permissions": [format!("unkey:v1:{ws}:keyspaces/{api}#*")]}),
        )
        .await;
    reply.error(400, "/invalid_input");
    assert_eq!(reply.error_locations(), vec!["body.permissions[0]"]);
}

#[tokio::test]
async fn list_keys_shows_only_what_the_caller_may_read() {
    let app = TestApp::start().await;
    let ws = app.workspace_id().await;
    let (a, _) = app.root_key_id_with(&["api.*.read_api"]).await;
    let (b, _) = app.root_key_id_with(&["api.*.read_api"]).await;
    let (_, reads_a) = app
        .root_key_id_with(&[&format!("unkey:v1:{ws}:rootKeys/{a}#read")])
        .await;
    let (_, nothing) = app.root_key_id_with(&["api.*.read_api"]).await;
    let page = app
        .post_as(Some(&reads_a), "rootKeys.listKeys", json!({}))
        .await;
    let ids: Vec<&str> = page
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["keyId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![a.as_str()]);
    assert_eq!(page.body["pagination"], json!({"hasMore": false}));
    let empty = app
        .post_as(Some(&nothing), "rootKeys.listKeys", json!({}))
        .await;
    assert_eq!(empty.data(), &json!([]));
    // keyward's earlier name keeps its rule: all of them, or 403.
    app.post_as(Some(&reads_a), "rootKeys.listRootKeys", json!({}))
        .await
        .error(403, "/insufficient_permissions");
    // Pages count readable keys, and the cursor skips what the caller may not read.
    let (_, reads_all) = app
        .root_key_id_with(&[&format!("unkey:v1:{ws}:rootKeys/*#read")])
        .await;
    let first = app
        .post_as(Some(&reads_all), "rootKeys.listKeys", json!({"limit": 2}))
        .await;
    assert_eq!(first.data().as_array().unwrap().len(), 2);
    assert_eq!(first.body["pagination"]["hasMore"], true);
    let mut seen: Vec<String> = first
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["keyId"].as_str().unwrap().to_owned())
        .collect();
    let mut cursor = first.body["pagination"]["cursor"].clone();
    while !cursor.is_null() {
        let page = app
            .post_as(
                Some(&reads_all),
                "rootKeys.listKeys",
                json!({"limit": 2, "cursor": cursor}),
            )
            .await;
        seen.extend(
            page.data()
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["keyId"].as_str().unwrap().to_owned()),
        );
        cursor = page.body["pagination"]["cursor"].clone();
    }
    assert_eq!(seen.len(), 6, "bootstrap + 5: {seen:?}");
    assert!(seen.contains(&b));
}

#[tokio::test]
async fn changing_a_root_key_takes_every_permission_it_holds() {
    let app = TestApp::start().await;
    let ws = app.workspace_id().await;
    let bootstrap = app.call("rootKeys.listKeys", json!({})).await[0]["keyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (narrow_id, narrow) = app
        .root_key_id_with(&[
            &format!("unkey:v1:{ws}:rootKeys/*#write"),
            &format!("unkey:v1:{ws}:rootKeys/*#delete"),
            "api.*.read_api",
        ])
        .await;
    // It cannot disable, change, reroll or delete the all-powerful key…
    for (operation, body) in [
        (
            "rootKeys.updateKey",
            json!({"keyId": bootstrap, "enabled": false}),
        ),
        (
            "rootKeys.rerollKey",
            json!({"keyId": bootstrap, "expiration": 0}),
        ),
        ("rootKeys.deleteKey", json!({"keyId": bootstrap})),
    ] {
        let detail = app
            .post_as(Some(&narrow), operation, body)
            .await
            .error(403, "/insufficient_permissions");
        assert!(detail.contains("api.*.create_api"), "{operation}: {detail}");
    }
    app.call("apis.createApi", json!({"name": "still-in-charge"}))
        .await;
    // …nor grant what it lacks, even to itself.
    app.post_as(
        Some(&narrow),
        "rootKeys.updateKey",
        json!({"keyId": narrow_id, "permissions": ["api.*.delete_api"]}),
    )
    .await
    .error(403, "/insufficient_permissions");
    // Within its own permissions it may.
    let (target, target_key) = app.root_key_id_with(&["api.*.read_api"]).await;
    app.post_as(
        Some(&narrow),
        "rootKeys.updateKey",
        json!({"keyId": target, "enabled": false}),
    )
    .await
    .data();
    app.post_as(
        Some(&target_key),
        "apis.listKeys",
        json!({"apiId": "api_x"}),
    )
    .await
    .error(403, "/key_disabled");
    // Reroll with `expiration` other than null also takes `#delete`.
    let (_, writer_only) = app
        .root_key_id_with(&[&format!("unkey:v1:{ws}:rootKeys/*#write"), "api.*.read_api"])
        .await;
    app.post_as(
        Some(&writer_only),
        "rootKeys.rerollKey",
        json!({"keyId": target, "expiration": 1000}),
    )
    .await
    .error(403, "/insufficient_permissions");
    app.post_as(
        Some(&writer_only),
        "rootKeys.rerollKey",
        json!({"keyId": target, "expiration": null}),
    )
    .await
    .data();
    // Tuples name the same rights.
    let (_, tuples) = app
        .root_key_id_with(&["rootkey.*.update_root_key", "api.*.read_api"])
        .await;
    app.post_as(
        Some(&tuples),
        "rootKeys.updateKey",
        json!({"keyId": target, "enabled": true}),
    )
    .await
    .data();
    let (_, lister) = app.root_key_id_with(&["rootkey.*.read_root_key"]).await;
    let all = app
        .post_as(Some(&lister), "rootKeys.listKeys", json!({}))
        .await;
    assert!(listed(all.data(), &target).is_some() && listed(all.data(), &bootstrap).is_some());
    let (_, rerolls) = app
        .root_key_id_with(&[
            "rootkey.*.update_root_key",
            "rootkey.*.delete_root_key",
            "api.*.read_api",
        ])
        .await;
    app.post_as(
        Some(&rerolls),
        "rootKeys.rerollKey",
        json!({"keyId": target, "expiration": 60000}),
    )
    .await
    .data();
    let (doomed, _) = app.root_key_id_with(&["api.*.read_api"]).await;
    app.post_as(
        Some(&narrow),
        "rootKeys.deleteKey",
        json!({"keyId": doomed}),
    )
    .await
    .data();
    // Another workspace sees none of these keys.
    let stranger = app.other_workspace_root_key().await;
    for (operation, body) in [
        (
            "rootKeys.updateKey",
            json!({"keyId": target, "enabled": false}),
        ),
        (
            "rootKeys.rerollKey",
            json!({"keyId": target, "expiration": null}),
        ),
        ("rootKeys.deleteKey", json!({"keyId": target})),
    ] {
        app.post_as(Some(&stranger), operation, body)
            .await
            .error(404, "/root_key_not_found");
    }
    let theirs = app
        .post_as(Some(&stranger), "rootKeys.listKeys", json!({}))
        .await;
    assert!(listed(theirs.data(), &target).is_none());
}

#[tokio::test]
async fn expiring_root_keys() {
    let app = TestApp::start().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    app.post(
        "rootKeys.createKey",
        json!({"permissions": ["api.*.read_api"], "expires": now - 1000}),
    )
    .await
    .error(400, "/invalid_input");
    let soon = now + 3_600_000;
    let created = app
        .call(
            "rootKeys.createKey",
            json!({"permissions": ["rootkey.*.create_root_key", "api.*.read_api"], "expires": soon}),
        )
        .await;
    let expiring = created["key"].as_str().unwrap();
    let list = app.call("rootKeys.listKeys", json!({})).await;
    assert_eq!(
        listed(&list, created["keyId"].as_str().unwrap()).unwrap()["expires"],
        soon
    );
    // An expiring key cannot create one that outlives it.
    for expires in [json!(null), json!(soon + 1)] {
        app.post_as(
            Some(expiring),
            "rootKeys.createKey",
            json!({"permissions": ["api.*.read_api"], "expires": expires}),
        )
        .await
        .error(403, "/insufficient_permissions");
    }
    app.post_as(
        Some(expiring),
        "rootKeys.createKey",
        json!({"permissions": ["api.*.read_api"], "expires": soon}),
    )
    .await
    .data();
    app.post_as(
        Some(expiring),
        "rootKeys.createKey",
        json!({"permissions": ["api.*.read_api"]}),
    )
    .await
    .error(403, "/insufficient_permissions");
}

/// Stops `app`, runs `edit` on its database, and starts it again.
async fn edit_database(app: TestApp, edit: &str, bind: &str) -> TestApp {
    use sqlx::Connection;
    let TestApp {
        server, storage, ..
    } = app;
    server.shutdown().await.unwrap();
    let mut conn = storage.inspect().await;
    sqlx::query(sqlx::AssertSqlSafe(edit.to_owned()))
        .bind(bind.to_owned())
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    TestApp::start_in(storage).await
}

#[tokio::test]
async fn an_earlier_versions_all_powerful_key_is_upgraded_at_start() {
    let app = TestApp::start().await;
    let ws = app.workspace_id().await;
    let (narrow_id, _) = app.root_key_id_with(&["api.*.read_api"]).await;
    // What the first release gave its bootstrap key: every wildcard tuple of its catalog,
    // without `rootkey.*.update_root_key` or the URN of everything.
    let first_release: Vec<String> =
        app.call("rootKeys.listKeys", json!({})).await[0]["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .filter(|p| p != "rootkey.*.update_root_key" && !p.starts_with("unkey:"))
            .collect();
    let app = edit_database(
        app,
        "update root_keys set permissions = $1 where name = 'default root key'",
        &serde_json::to_string(&first_release).unwrap(),
    )
    .await;
    let list = app.call("rootKeys.listKeys", json!({})).await;
    let bootstrap = &list[0];
    let permissions = bootstrap["permissions"].as_array().unwrap();
    assert!(permissions.contains(&json!("rootkey.*.update_root_key")));
    assert!(permissions.contains(&json!(format!("unkey:v1:{ws}:**#*"))));
    assert!(permissions.contains(&json!("workspace.*.create_workspace")));
    // It can use and grant the new operations.
    app.call(
        "rootKeys.updateKey",
        json!({"keyId": narrow_id, "name": "renamed"}),
    )
    .await;
    app.call(
        "rootKeys.createKey",
        json!({"permissions": [format!("unkey:v1:{ws}:rootKeys/*#write")]}),
    )
    .await;
    // A key holding less is not all-powerful: left as it was.
    assert_eq!(
        listed(&list, &narrow_id).unwrap()["permissions"],
        json!(["api.*.read_api"])
    );
    let upgrades = app.audit_events("rootKey.update").await;
    let by_keyward: Vec<&Value> = upgrades
        .iter()
        .filter(|e| e["actor"]["type"] == "system")
        .collect();
    assert_eq!(by_keyward.len(), 1, "{upgrades:?}");
    assert!(
        by_keyward[0]["description"]
            .as_str()
            .unwrap()
            .contains("rootkey.*.update_root_key")
    );
    // Nothing more on the next start.
    let TestApp {
        server, storage, ..
    } = app;
    server.shutdown().await.unwrap();
    let app = TestApp::start_in(storage).await;
    let upgrades = app.audit_events("rootKey.update").await;
    assert_eq!(
        upgrades
            .iter()
            .filter(|e| e["actor"]["type"] == "system")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_urn_naming_another_workspace_grants_nothing() {
    let app = TestApp::start().await;
    let ws = app.workspace_id().await;
    let api = app.create_api().await;
    let (_, key) = app.create_key(&api, json!({})).await;
    let (id, foreign) = app.root_key_id_with(&["api.*.read_api"]).await;
    // Only the database can hold such a grant: no root key may give it.
    let app = edit_database(
        app,
        &format!(
            "update root_keys set permissions = '[\"unkey:v1:ws_elsewhere:**#*\", \"unkey:v1:ws_elsewhere:keyspaces/{api}/keys/*#verify_key\"]' where id = $1"
        ),
        &id,
    )
    .await;
    let data = app
        .post_as(Some(&foreign), "keys.verifyKey", json!({"key": key}))
        .await;
    assert_eq!(data.data()["code"], "NOT_FOUND");
    app.post_as(Some(&foreign), "apis.createApi", json!({"name": "xyz"}))
        .await
        .error(403, "/insufficient_permissions");
    // The same grants naming this workspace do.
    let mine = app
        .root_key_with(&[&format!("unkey:v1:{ws}:keyspaces/{api}/keys/*#verify_key")])
        .await;
    let data = app
        .post_as(Some(&mine), "keys.verifyKey", json!({"key": key}))
        .await;
    assert_eq!(data.data()["code"], "VALID");
}
