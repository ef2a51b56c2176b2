//! permissions.*: permissions and roles, their errors, and who may call them.

use serde_json::{Value, json};

use crate::helpers::TestApp;

async fn create_permission(app: &TestApp, slug: &str) -> String {
    app.call(
        "permissions.createPermission",
        json!({"name": format!("{slug} name"), "slug": slug, "description": "d"}),
    )
    .await["permissionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn slugs(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn permissions_are_created_read_listed_updated_and_deleted() {
    let app = TestApp::start().await;
    let id = create_permission(&app, "documents.read").await;
    assert!(id.starts_with("perm_"), "{id}");
    for by in [id.as_str(), "documents.read", "DOCUMENTS.READ"] {
        let got = app
            .call("permissions.getPermission", json!({"permission": by}))
            .await;
        assert_eq!(
            got,
            json!({"id": id, "name": "documents.read name", "slug": "documents.read", "description": "d"}),
            "by {by}"
        );
    }
    // Slugs are unique whatever their case.
    let detail = app
        .post(
            "permissions.createPermission",
            json!({"name": "again", "slug": "Documents.Read"}),
        )
        .await
        .error(409, "/permission_already_exists");
    assert!(detail.contains("Documents.Read"), "{detail}");

    for slug in ["b.write", "c.admin", "d.search-me"] {
        create_permission(&app, slug).await;
    }
    let first = app
        .post("permissions.listPermissions", json!({"limit": 3}))
        .await;
    assert_eq!(first.data().as_array().unwrap().len(), 3);
    assert_eq!(first.body["pagination"]["hasMore"], true);
    let rest = app
        .post(
            "permissions.listPermissions",
            json!({"limit": 3, "cursor": first.body["pagination"]["cursor"]}),
        )
        .await;
    assert_eq!(rest.data().as_array().unwrap().len(), 1);
    assert_eq!(rest.body["pagination"], json!({"hasMore": false}));
    let found = app
        .call("permissions.listPermissions", json!({"search": "SEARCH"}))
        .await;
    assert_eq!(slugs(&found), vec!["d.search-me"]);

    // An update without changes answers the stored permission and writes nothing.
    let same = app
        .call(
            "permissions.updatePermission",
            json!({"permission": id, "name": "documents.read name"}),
        )
        .await;
    assert_eq!(same["name"], "documents.read name");
    assert!(app.audit_events("permission.update").await.is_empty());
    let updated = app
        .call(
            "permissions.updatePermission",
            json!({"permission": "documents.read", "slug": "docs.read", "description": null}),
        )
        .await;
    assert_eq!(
        updated,
        json!({"id": id, "name": "documents.read name", "slug": "docs.read"})
    );
    app.post(
        "permissions.updatePermission",
        json!({"permission": id, "slug": "B.WRITE"}),
    )
    .await
    .error(409, "/permission_already_exists");
    assert_eq!(app.audit_events("permission.update").await.len(), 1);

    app.call(
        "permissions.deletePermission",
        json!({"permission": "docs.read"}),
    )
    .await;
    for operation in ["permissions.getPermission", "permissions.deletePermission"] {
        app.post(operation, json!({"permission": id}))
            .await
            .error(404, "/permission_not_found");
    }
    assert_eq!(app.audit_events("permission.create").await.len(), 4);
    assert_eq!(app.audit_events("permission.delete").await.len(), 1);
}

#[tokio::test]
async fn roles_hold_permissions_created_on_the_fly() {
    let app = TestApp::start().await;
    create_permission(&app, "existing.one").await;
    let role_id = app
        .call(
            "permissions.createRole",
            json!({"name": "support", "description": "helps", "permissions": ["EXISTING.ONE", "new.one", "new.one"]}),
        )
        .await["roleId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(role_id.starts_with("role_"));
    let role = app
        .call("permissions.getRole", json!({"role": "support"}))
        .await;
    assert_eq!(role["id"], json!(role_id));
    assert_eq!(role["description"], "helps");
    assert_eq!(slugs(&role["permissions"]), vec!["existing.one", "new.one"]);
    assert_eq!(
        app.call("permissions.getRole", json!({"role": role_id}))
            .await,
        role
    );
    app.post("permissions.createRole", json!({"name": "support"}))
        .await
        .error(409, "/role_already_exists");
    app.call("permissions.createRole", json!({"name": "empty"}))
        .await;
    let listed = app.call("permissions.listRoles", json!({})).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(
        app.call("permissions.listRoles", json!({"search": "SUPP"}))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let renamed = app
        .call(
            "permissions.updateRole",
            json!({"role": "support", "name": "helpdesk", "description": ""}),
        )
        .await;
    assert_eq!(renamed, json!({"id": role_id, "name": "helpdesk"}));
    app.post(
        "permissions.updateRole",
        json!({"role": role_id, "name": "empty"}),
    )
    .await
    .error(409, "/role_already_exists");

    // setRolePermissions takes `role` (Unkey's newest field) or `roleId`, by id or name.
    let set = app
        .call(
            "permissions.setRolePermissions",
            json!({"role": "helpdesk", "permissions": ["new.one", "newer.two"]}),
        )
        .await;
    assert_eq!(slugs(&set), vec!["new.one", "newer.two"]);
    let set = app
        .call(
            "permissions.setRolePermissions",
            json!({"roleId": role_id, "permissions": []}),
        )
        .await;
    assert_eq!(set, json!([]));
    app.post(
        "permissions.setRolePermissions",
        json!({"role": "helpdesk", "roleId": role_id, "permissions": []}),
    )
    .await
    .error(400, "/invalid_input");
    app.post(
        "permissions.setRolePermissions",
        json!({"role": "nobody", "permissions": []}),
    )
    .await
    .error(404, "/role_not_found");

    app.call("permissions.deleteRole", json!({"role": "helpdesk"}))
        .await;
    app.post("permissions.getRole", json!({"role": role_id}))
        .await
        .error(404, "/role_not_found");
    app.post("permissions.deleteRole", json!({"role": role_id}))
        .await
        .error(404, "/role_not_found");
    // The permissions outlive the role.
    assert_eq!(
        app.call("permissions.listPermissions", json!({}))
            .await
            .as_array()
            .unwrap()
            .len(),
        3
    );
    for event in [
        "role.create",
        "role.update",
        "role.delete",
        "authorization.connect_role_and_permission",
    ] {
        assert!(!app.audit_events(event).await.is_empty(), "{event}");
    }
}

#[tokio::test]
async fn bad_requests_say_what_to_fix_and_change_nothing() {
    let app = TestApp::start().await;
    for (operation, body, location) in [
        (
            "permissions.createPermission",
            json!({"name": "x", "slug": "has space"}),
            "body.slug",
        ),
        (
            "permissions.createPermission",
            json!({"name": "", "slug": "ok"}),
            "body.name",
        ),
        (
            "permissions.createPermission",
            json!({"name": "x", "slug": "a".repeat(129)}),
            "body.slug",
        ),
        (
            "permissions.createRole",
            json!({"name": "r", "permissions": ["ok", "not ok"]}),
            "body.permissions[1]",
        ),
        (
            "permissions.listPermissions",
            json!({"limit": 0}),
            "body.limit",
        ),
        ("permissions.listRoles", json!({"limit": 101}), "body.limit"),
        ("permissions.getRole", json!({"role": ""}), "body.role"),
        (
            "permissions.updatePermission",
            json!({"permission": "x", "slug": "bad/slug"}),
            "body.slug",
        ),
    ] {
        let reply = app.post(operation, body.clone()).await;
        reply.error(400, "/invalid_input");
        assert_eq!(
            reply.error_locations(),
            vec![location],
            "{operation} {body}"
        );
    }
    // A role whose permissions cannot all be created is not created either.
    let limited = app
        .root_key_with(&[
            "rbac.*.create_role",
            "rbac.*.add_permission_to_role",
            "rbac.*.read_role",
        ])
        .await;
    let detail = app
        .post_as(
            Some(&limited),
            "permissions.createRole",
            json!({"name": "r", "permissions": ["not.there"]}),
        )
        .await
        .error(403, "/insufficient_permissions");
    assert!(detail.contains("rbac.*.create_permission"), "{detail}");
    assert_eq!(
        app.call("permissions.listRoles", json!({})).await,
        json!([])
    );
    assert!(app.audit_events("role.create").await.is_empty());
}

/// One operation of the matrix: how to call it on a fresh app, and what it needs.
struct Case {
    operation: &'static str,
    body: Value,
    /// Tuples that, together, allow it.
    tuples: &'static [&'static str],
    /// A URN that allows it alone (`{ws}` is the workspace id), if Unkey defines one.
    urn: Option<&'static str>,
    /// Whether another workspace's root key is answered 404 (a lookup) rather than 403.
    looks_up: bool,
}

#[tokio::test]
async fn every_permissions_operation_is_allowed_denied_and_hidden_from_other_workspaces() {
    let app = TestApp::start().await;
    let ws = app.workspace_id().await;
    let permission = create_permission(&app, "seed.permission").await;
    let role = app
        .call("permissions.createRole", json!({"name": "seed-role"}))
        .await["roleId"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases = vec![
        Case {
            operation: "permissions.createPermission",
            body: json!({"name": "n", "slug": "made.by.matrix"}),
            tuples: &["rbac.*.create_permission"],
            urn: Some("unkey:v1:{ws}:rbac/permissions/*#create_permission"),
            looks_up: false,
        },
        Case {
            operation: "permissions.getPermission",
            body: json!({"permission": permission}),
            tuples: &["rbac.*.read_permission"],
            urn: None,
            looks_up: true,
        },
        Case {
            operation: "permissions.listPermissions",
            body: json!({}),
            tuples: &["rbac.*.read_permission"],
            urn: None,
            looks_up: false,
        },
        Case {
            operation: "permissions.updatePermission",
            body: json!({"permission": permission, "description": "changed"}),
            tuples: &["rbac.*.update_permission"],
            urn: Some("unkey:v1:{ws}:projects/*/rbac/permissions/*#write"),
            looks_up: true,
        },
        Case {
            operation: "permissions.createRole",
            body: json!({"name": "made-by-matrix", "permissions": ["seed.permission"]}),
            tuples: &["rbac.*.create_role", "rbac.*.add_permission_to_role"],
            urn: None,
            looks_up: false,
        },
        Case {
            operation: "permissions.getRole",
            body: json!({"role": role}),
            tuples: &["rbac.*.read_role"],
            urn: None,
            looks_up: true,
        },
        Case {
            operation: "permissions.listRoles",
            body: json!({}),
            tuples: &["rbac.*.read_role"],
            urn: None,
            looks_up: false,
        },
        Case {
            operation: "permissions.updateRole",
            body: json!({"role": role, "description": "changed"}),
            tuples: &["rbac.*.update_role"],
            urn: Some("unkey:v1:{ws}:projects/*/rbac/roles/*#write"),
            looks_up: true,
        },
        Case {
            operation: "permissions.setRolePermissions",
            body: json!({"role": role, "permissions": ["seed.permission"]}),
            tuples: &[
                "rbac.*.add_permission_to_role",
                "rbac.*.remove_permission_from_role",
            ],
            urn: None,
            looks_up: true,
        },
    ];
    let stranger = app.other_workspace_root_key().await;
    let unrelated = app.root_key_with(&["api.*.read_api"]).await;
    for case in &cases {
        let op = case.operation;
        // Denied: without its permissions, and with all but one of them.
        app.post_as(Some(&unrelated), op, case.body.clone())
            .await
            .error(403, "/insufficient_permissions");
        if case.tuples.len() > 1 {
            for missing in 0..case.tuples.len() {
                let partial: Vec<&str> = case
                    .tuples
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != missing)
                    .map(|(_, t)| *t)
                    .collect();
                let key = app.root_key_with(&partial).await;
                app.post_as(Some(&key), op, case.body.clone())
                    .await
                    .error(403, "/insufficient_permissions");
            }
        }
        // Allowed with its tuples, and with its URN form.
        let key = app.root_key_with(case.tuples).await;
        app.post_as(Some(&key), op, case.body.clone()).await.data();
        if let Some(urn) = case.urn {
            let key = app.root_key_with(&[&urn.replace("{ws}", &ws)]).await;
            let body = match op {
                "permissions.createPermission" => json!({"name": "n", "slug": "made.by.urn"}),
                _ => case.body.clone(),
            };
            app.post_as(Some(&key), op, body).await.data();
        }
        // Another workspace's all-powerful key finds nothing of this one.
        let reply = app.post_as(Some(&stranger), op, case.body.clone()).await;
        if case.looks_up {
            assert_eq!(reply.status, 404, "{op}: {}", reply.body);
        } else if op.starts_with("permissions.list") {
            let listed = reply.data().to_string();
            assert!(
                !listed.contains(&permission) && !listed.contains(&role),
                "{op}: {listed}"
            );
        } else {
            reply.data();
        }
    }
    // What the stranger created stayed in its workspace: one `made.by.matrix` here, made by
    // the matrix's own key, and one there.
    let here = app.call("permissions.listPermissions", json!({})).await;
    assert_eq!(
        slugs(&here)
            .iter()
            .filter(|s| **s == "made.by.matrix")
            .count(),
        1
    );
    let there = app
        .post_as(Some(&stranger), "permissions.listPermissions", json!({}))
        .await;
    assert!(slugs(there.data()).contains(&"made.by.matrix"));
}

#[tokio::test]
async fn deleting_in_another_workspace_finds_nothing() {
    let app = TestApp::start().await;
    let permission = create_permission(&app, "mine.only").await;
    let role = app
        .call("permissions.createRole", json!({"name": "mine"}))
        .await["roleId"]
        .clone();
    let stranger = app.other_workspace_root_key().await;
    app.post_as(
        Some(&stranger),
        "permissions.deletePermission",
        json!({"permission": permission}),
    )
    .await
    .error(404, "/permission_not_found");
    app.post_as(
        Some(&stranger),
        "permissions.deleteRole",
        json!({"role": role}),
    )
    .await
    .error(404, "/role_not_found");
    // The other workspace may use the same slug and name: they are per workspace.
    app.post_as(
        Some(&stranger),
        "permissions.createPermission",
        json!({"name": "x", "slug": "mine.only"}),
    )
    .await
    .data();
    let denied = app.root_key_with(&["rbac.*.read_permission"]).await;
    for (operation, body) in [
        (
            "permissions.deletePermission",
            json!({"permission": permission}),
        ),
        ("permissions.deleteRole", json!({"role": role})),
    ] {
        app.post_as(Some(&denied), operation, body.clone())
            .await
            .error(403, "/insufficient_permissions");
    }
    let deleter = app
        .root_key_with(&["rbac.*.delete_permission", "rbac.*.delete_role"])
        .await;
    app.post_as(
        Some(&deleter),
        "permissions.deletePermission",
        json!({"permission": "mine.only"}),
    )
    .await
    .data();
    app.post_as(
        Some(&deleter),
        "permissions.deleteRole",
        json!({"role": "mine"}),
    )
    .await
    .data();
}
