//! Permissions and roles of keys: granting them, what verifyKey's permission query makes of
//! them, and revoking them — effective on the next verification, whatever the cache holds.

use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Verifies `key` with the permission query `query`; returns `data`.
async fn verify_query(app: &TestApp, key: &str, query: &str) -> Value {
    app.call("keys.verifyKey", json!({"key": key, "permissions": query}))
        .await
}

async fn code(app: &TestApp, key: &str, query: &str) -> String {
    verify_query(app, key, query).await["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn role(app: &TestApp, name: &str, permissions: &[&str]) -> String {
    app.call(
        "permissions.createRole",
        json!({"name": name, "permissions": permissions}),
    )
    .await["roleId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_key_holds_its_direct_and_role_permissions() {
    let app = TestApp::start().await;
    let api = app.create_api().await;
    role(&app, "reader", &["documents.read", "comments.read"]).await;
    let (key_id, key) = app
        .create_key(
            &api,
            json!({"permissions": ["documents.write"], "roles": ["reader"]}),
        )
        .await;
    let data = verify_query(&app, &key, "documents.read AND (documents.write OR admin)").await;
    assert_eq!(data["code"], "VALID", "{data}");
    assert_eq!(
        data["permissions"],
        json!(["comments.read", "documents.read", "documents.write"])
    );
    assert_eq!(data["roles"], json!(["reader"]));
    assert_eq!(data["keyspaceId"], json!(api));
    // Without a query the answer carries them too.
    assert_eq!(app.verify(&key).await["roles"], json!(["reader"]));

    let denied = verify_query(&app, &key, "documents.read AND admin").await;
    assert_eq!(denied["code"], "INSUFFICIENT_PERMISSIONS");
    assert_eq!(denied["valid"], false);
    assert_eq!(denied["permissions"], data["permissions"]);
    // Leaves match exactly: no wildcards, case counts.
    assert_eq!(
        code(&app, &key, "documents.*").await,
        "INSUFFICIENT_PERMISSIONS"
    );
    assert_eq!(
        code(&app, &key, "Documents.Read").await,
        "INSUFFICIENT_PERMISSIONS"
    );

    for (operation, body) in [
        ("keys.getKey", json!({"keyId": key_id})),
        ("keys.whoami", json!({"key": key})),
    ] {
        let got = app.call(operation, body).await;
        assert_eq!(got["permissions"], data["permissions"], "{operation}");
        assert_eq!(got["roles"], json!(["reader"]), "{operation}");
    }
    let listed = app.call("apis.listKeys", json!({"apiId": api})).await;
    assert_eq!(listed[0]["permissions"], data["permissions"]);
    assert_eq!(listed[0]["roles"], json!(["reader"]));
    // Slugs named by createKey that did not exist were created, by their slug.
    let created = app
        .call(
            "permissions.getPermission",
            json!({"permission": "documents.write"}),
        )
        .await;
    assert_eq!(created["name"], "documents.write");
    // An unknown role is a 404 and creates nothing.
    app.post("keys.createKey", json!({"apiId": api, "roles": ["ghost"]}))
        .await
        .error(404, "/role_not_found");
    assert_eq!(
        app.call("apis.listKeys", json!({"apiId": api}))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn syntax_errors_name_the_position_and_nesting_is_bounded() {
    let app = TestApp::start().await;
    let api = app.create_api().await;
    let (_, key) = app.create_key(&api, json!({})).await;
    for (query, position) in [
        ("a AND", "position 5"),
        ("(a OR b", "position 7"),
        ("a $ b", "position 2"),
    ] {
        let reply = app
            .post("keys.verifyKey", json!({"key": key, "permissions": query}))
            .await;
        let detail = reply.error(400, "/permissions_query_syntax_error");
        assert!(detail.contains(position), "{query}: {detail}");
        assert_eq!(
            reply.body["error"]["errors"],
            json!([]),
            "SDKs need errors[]"
        );
    }
    // Deep nesting is refused with a clear 400, whatever the key (no stack to overflow).
    let deep = format!("{}a{}", "(".repeat(400), ")".repeat(400));
    let detail = app
        .post(
            "keys.verifyKey",
            json!({"key": "unknown", "permissions": deep}),
        )
        .await
        .error(400, "/permissions_query_syntax_error");
    assert!(detail.contains("nest"), "{detail}");
    // Over 1000 characters is refused by the request's schema.
    let long = vec!["a.b"; 300].join(" OR ");
    app.post("keys.verifyKey", json!({"key": key, "permissions": long}))
        .await
        .error(400, "/invalid_input");
}

#[tokio::test]
async fn key_permission_operations_change_only_direct_permissions() {
    let app = TestApp::start().await;
    let api = app.create_api().await;
    role(&app, "reader", &["documents.read"]).await;
    let (key_id, key) = app.create_key(&api, json!({"roles": ["reader"]})).await;

    let added = app
        .call(
            "keys.addPermissions",
            json!({"keyId": key_id, "permissions": ["a.one", "b.two", "A.ONE"]}),
        )
        .await;
    let slugs = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| p["slug"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(slugs(&added), vec!["a.one", "b.two"]);
    assert!(added[0]["id"].as_str().unwrap().starts_with("perm_"));
    assert_eq!(code(&app, &key, "a.one AND documents.read").await, "VALID");

    let left = app
        .call(
            "keys.removePermissions",
            json!({"keyId": key_id, "permissions": [added[0]["id"]]}),
        )
        .await;
    assert_eq!(slugs(&left), vec!["b.two"]);
    // Revoked on the next verification, though the key was cached a moment ago.
    assert_eq!(code(&app, &key, "a.one").await, "INSUFFICIENT_PERMISSIONS");
    app.post(
        "keys.removePermissions",
        json!({"keyId": key_id, "permissions": ["never.existed"]}),
    )
    .await
    .error(404, "/permission_not_found");

    let set = app
        .call(
            "keys.setPermissions",
            json!({"keyId": key_id, "permissions": ["c.three"]}),
        )
        .await;
    assert_eq!(slugs(&set), vec!["c.three"]);
    let data = app.verify(&key).await;
    assert_eq!(data["permissions"], json!(["c.three", "documents.read"]));
    app.call(
        "keys.setPermissions",
        json!({"keyId": key_id, "permissions": []}),
    )
    .await;
    assert_eq!(
        app.verify(&key).await["permissions"],
        json!(["documents.read"]),
        "role permissions stay"
    );
    for event in [
        "authorization.connect_permission_and_key",
        "authorization.disconnect_permission_and_key",
        "permission.create",
    ] {
        assert!(!app.audit_events(event).await.is_empty(), "{event}");
    }
}

#[tokio::test]
async fn key_role_operations() {
    let app = TestApp::start().await;
    let api = app.create_api().await;
    role(&app, "reader", &["documents.read"]).await;
    role(&app, "writer", &["documents.write"]).await;
    let (key_id, key) = app.create_key(&api, json!({})).await;
    let added = app
        .call(
            "keys.addRoles",
            json!({"keyId": key_id, "roles": ["writer", "reader"]}),
        )
        .await;
    assert_eq!(added[0]["name"], "reader");
    assert_eq!(added[0]["permissions"][0]["slug"], "documents.read");
    assert_eq!(added[1]["name"], "writer");
    assert_eq!(
        code(&app, &key, "documents.read AND documents.write").await,
        "VALID"
    );
    app.post(
        "keys.addRoles",
        json!({"keyId": key_id, "roles": ["ghost"]}),
    )
    .await
    .error(404, "/role_not_found");
    let left = app
        .call(
            "keys.removeRoles",
            json!({"keyId": key_id, "roles": ["writer"]}),
        )
        .await;
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(
        code(&app, &key, "documents.write").await,
        "INSUFFICIENT_PERMISSIONS"
    );
    let set = app
        .call(
            "keys.setRoles",
            json!({"keyId": key_id, "roles": ["writer"]}),
        )
        .await;
    assert_eq!(set[0]["name"], "writer");
    assert_eq!(app.verify(&key).await["roles"], json!(["writer"]));
    app.call("keys.setRoles", json!({"keyId": key_id, "roles": []}))
        .await;
    let data = app.verify(&key).await;
    assert!(
        data.get("roles").is_none() && data.get("permissions").is_none(),
        "{data}"
    );
    // updateKey replaces both.
    app.call(
        "keys.updateKey",
        json!({"keyId": key_id, "roles": ["reader"], "permissions": ["x.y"]}),
    )
    .await;
    assert_eq!(
        app.verify(&key).await["permissions"],
        json!(["documents.read", "x.y"])
    );
    // A rerolled key holds the same.
    let rerolled = app
        .call(
            "keys.rerollKey",
            json!({"keyId": key_id, "expiration": null}),
        )
        .await;
    let new_key = rerolled["key"].as_str().unwrap();
    assert_eq!(code(&app, new_key, "documents.read AND x.y").await, "VALID");
    assert_eq!(
        code(&app, &key, "documents.read").await,
        "VALID",
        "expiration null: the old key works on"
    );
    for event in [
        "authorization.connect_role_and_key",
        "authorization.disconnect_role_and_key",
    ] {
        assert!(!app.audit_events(event).await.is_empty(), "{event}");
    }
}

#[tokio::test]
async fn deleting_or_changing_a_permission_or_role_revokes_at_once() {
    let app = TestApp::start().await;
    let api = app.create_api().await;
    let reader = role(&app, "reader", &["documents.read"]).await;
    role(&app, "other", &["documents.read"]).await;
    let (_, by_role) = app.create_key(&api, json!({"roles": ["reader"]})).await;
    let (_, direct) = app
        .create_key(
            &api,
            json!({"permissions": ["documents.read", "audit.read"]}),
        )
        .await;
    let (_, both) = app
        .create_key(
            &api,
            json!({"roles": ["reader"], "permissions": ["audit.read"]}),
        )
        .await;
    for key in [&by_role, &direct, &both] {
        assert_eq!(code(&app, key, "documents.read").await, "VALID");
    }
    // The role loses its permission: its keys at once, keys holding it directly keep it.
    app.call(
        "permissions.setRolePermissions",
        json!({"role": reader, "permissions": []}),
    )
    .await;
    assert_eq!(
        code(&app, &by_role, "documents.read").await,
        "INSUFFICIENT_PERMISSIONS"
    );
    assert_eq!(code(&app, &direct, "documents.read").await, "VALID");
    app.call(
        "permissions.setRolePermissions",
        json!({"role": reader, "permissions": ["documents.read"]}),
    )
    .await;
    assert_eq!(code(&app, &by_role, "documents.read").await, "VALID");

    // Deleting the role.
    app.call("permissions.deleteRole", json!({"role": "reader"}))
        .await;
    assert_eq!(
        code(&app, &by_role, "documents.read").await,
        "INSUFFICIENT_PERMISSIONS"
    );
    assert_eq!(code(&app, &both, "audit.read").await, "VALID");
    assert!(app.verify(&both).await.get("roles").is_none());

    // Renaming a permission: its keys match the new slug at once.
    app.call(
        "permissions.updatePermission",
        json!({"permission": "audit.read", "slug": "audit.view"}),
    )
    .await;
    assert_eq!(code(&app, &direct, "audit.view").await, "VALID");
    assert_eq!(
        code(&app, &direct, "audit.read").await,
        "INSUFFICIENT_PERMISSIONS"
    );

    // Deleting a permission takes it from keys and from roles.
    app.call(
        "permissions.deletePermission",
        json!({"permission": "documents.read"}),
    )
    .await;
    assert_eq!(
        code(&app, &direct, "documents.read").await,
        "INSUFFICIENT_PERMISSIONS"
    );
    let other = app
        .call("permissions.getRole", json!({"role": "other"}))
        .await;
    assert_eq!(other["permissions"], json!([]));
}

#[tokio::test]
async fn key_grant_operations_need_update_key_and_the_rbac_action_or_the_key_urn() {
    let app = TestApp::start().await;
    let ws = app.workspace_id().await;
    let api = app.create_api().await;
    let other_api = app.create_api().await;
    role(&app, "reader", &["documents.read"]).await;
    app.call(
        "permissions.createPermission",
        json!({"name": "p", "slug": "existing.p"}),
    )
    .await;
    let (key_id, _) = app.create_key(&api, json!({})).await;
    let update = format!("api.{api}.update_key");
    let urn = format!("unkey:v1:{ws}:keyspaces/{api}/keys/{key_id}#update_key");
    for (operation, body, rbac) in [
        (
            "keys.addPermissions",
            json!({"keyId": key_id, "permissions": ["existing.p"]}),
            &["rbac.*.add_permission_to_key"][..],
        ),
        (
            "keys.removePermissions",
            json!({"keyId": key_id, "permissions": ["existing.p"]}),
            &["rbac.*.remove_permission_from_key"][..],
        ),
        (
            "keys.setPermissions",
            json!({"keyId": key_id, "permissions": ["existing.p"]}),
            &[
                "rbac.*.add_permission_to_key",
                "rbac.*.remove_permission_from_key",
            ][..],
        ),
        (
            "keys.addRoles",
            json!({"keyId": key_id, "roles": ["reader"]}),
            &["rbac.*.add_role_to_key"][..],
        ),
        (
            "keys.removeRoles",
            json!({"keyId": key_id, "roles": ["reader"]}),
            &[][..],
        ),
        (
            "keys.setRoles",
            json!({"keyId": key_id, "roles": ["reader"]}),
            &[][..],
        ),
    ] {
        let mut tuples = vec![update.as_str()];
        tuples.extend_from_slice(rbac);
        app.post_as(
            Some(&app.root_key_with(&tuples).await),
            operation,
            body.clone(),
        )
        .await
        .data();
        app.post_as(
            Some(&app.root_key_with(&[&urn]).await),
            operation,
            body.clone(),
        )
        .await
        .data();
        if !rbac.is_empty() {
            // update_key alone is not enough in tuple form.
            app.post_as(
                Some(&app.root_key_with(&[&update]).await),
                operation,
                body.clone(),
            )
            .await
            .error(403, "/insufficient_permissions");
        }
        let mut elsewhere = vec![format!("api.{other_api}.update_key")];
        elsewhere.extend(rbac.iter().map(|s| s.to_string()));
        let elsewhere: Vec<&str> = elsewhere.iter().map(String::as_str).collect();
        app.post_as(
            Some(&app.root_key_with(&elsewhere).await),
            operation,
            body.clone(),
        )
        .await
        .error(403, "/insufficient_permissions");
        app.post_as(
            Some(&app.other_workspace_root_key().await),
            operation,
            body.clone(),
        )
        .await
        .error(404, "/key_not_found");
    }
    // Creating a missing permission through a key takes rbac.*.create_permission too.
    let adder = app
        .root_key_with(&[&update, "rbac.*.add_permission_to_key"])
        .await;
    let detail = app
        .post_as(
            Some(&adder),
            "keys.addPermissions",
            json!({"keyId": key_id, "permissions": ["brand.new"]}),
        )
        .await
        .error(403, "/insufficient_permissions");
    assert!(detail.contains("rbac.*.create_permission"), "{detail}");
    app.post(
        "permissions.getPermission",
        json!({"permission": "brand.new"}),
    )
    .await
    .error(404, "/permission_not_found");
    let creator = app
        .root_key_with(&[
            &update,
            "rbac.*.add_permission_to_key",
            "rbac.*.create_permission",
        ])
        .await;
    app.post_as(
        Some(&creator),
        "keys.addPermissions",
        json!({"keyId": key_id, "permissions": ["brand.new"]}),
    )
    .await
    .data();
    // createKey creates permissions with create_key alone, as Unkey does.
    let issuer = app.root_key_with(&[&format!("api.{api}.create_key")]).await;
    app.post_as(
        Some(&issuer),
        "keys.createKey",
        json!({"apiId": api, "permissions": ["made.by.issuer"]}),
    )
    .await
    .data();
}

#[tokio::test]
async fn verification_can_be_restricted_to_keyspaces() {
    let app = TestApp::start().await;
    let api = app.create_api().await;
    let other = app.create_api().await;
    let (_, key) = app
        .create_key(&api, json!({"credits": {"remaining": 5}}))
        .await;
    let data = app
        .call("keys.verifyKey", json!({"key": key, "keyspaces": [other]}))
        .await;
    assert_eq!(data, json!({"valid": false, "code": "NOT_FOUND"}));
    let data = app
        .call(
            "keys.verifyKey",
            json!({"key": key, "keyspaces": [other, api]}),
        )
        .await;
    assert_eq!(data["code"], "VALID");
    assert_eq!(data["keyspaceId"], json!(api));
    assert_eq!(data["credits"], 4, "the miss spent nothing");
    let reply = app
        .post("keys.verifyKey", json!({"key": key, "keyspaces": []}))
        .await;
    reply.error(400, "/invalid_input");
    assert_eq!(reply.error_locations(), vec!["body.keyspaces"]);
    app.post(
        "keys.verifyKey",
        json!({"key": key, "keyspaces": ["bad id"]}),
    )
    .await
    .error(400, "/invalid_input");
}
