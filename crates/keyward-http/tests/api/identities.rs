//! identities.*: creating, reading, listing, changing and deleting identities, and what their
//! keys carry in verifications.

use serde_json::{Value, json};

use crate::helpers::TestApp;

async fn create_identity(app: &TestApp, external_id: &str, meta: Value) -> String {
    app.call(
        "identities.createIdentity",
        json!({"externalId": external_id, "meta": meta}),
    )
    .await["identityId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn identities_are_created_read_listed_and_updated() {
    let app = TestApp::start().await;
    let id = create_identity(&app, "user_1", json!({"plan": "pro"})).await;
    assert!(id.starts_with("id_"), "{id}");
    for by in [id.as_str(), "user_1"] {
        assert_eq!(
            app.call("identities.getIdentity", json!({"identity": by}))
                .await,
            json!({"id": id, "externalId": "user_1", "meta": {"plan": "pro"}}),
            "by {by}"
        );
    }
    let detail = app
        .post("identities.createIdentity", json!({"externalId": "user_1"}))
        .await
        .error(409, "/identity_already_exists");
    assert!(detail.contains("user_1"), "{detail}");
    for external_id in ["user_2", "org_3", "user_4"] {
        create_identity(&app, external_id, json!({})).await;
    }
    let first = app
        .post("identities.listIdentities", json!({"limit": 3}))
        .await;
    assert_eq!(first.data().as_array().unwrap().len(), 3);
    assert_eq!(first.body["pagination"]["hasMore"], true);
    let rest = app
        .post(
            "identities.listIdentities",
            json!({"limit": 3, "cursor": first.body["pagination"]["cursor"]}),
        )
        .await;
    assert_eq!(rest.data().as_array().unwrap().len(), 1);
    assert_eq!(rest.body["pagination"], json!({"hasMore": false}));
    let found = app
        .call("identities.listIdentities", json!({"search": "ORG"}))
        .await;
    assert_eq!(found[0]["externalId"], "org_3");
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert!(found[0].get("meta").is_none(), "an empty meta is none");

    let updated = app
        .call(
            "identities.updateIdentity",
            json!({"identity": "user_1", "meta": {"plan": "enterprise"}}),
        )
        .await;
    assert_eq!(updated["meta"], json!({"plan": "enterprise"}));
    let cleared = app
        .call(
            "identities.updateIdentity",
            json!({"identity": id, "meta": {}}),
        )
        .await;
    assert!(cleared.get("meta").is_none(), "{cleared}");
    for event in ["identity.create", "identity.update"] {
        assert!(!app.audit_events(event).await.is_empty(), "{event}");
    }
}

#[tokio::test]
async fn keys_carry_their_identitys_meta_until_it_changes_or_goes() {
    let app = TestApp::start().await;
    let api = app.create_api().await;
    let id = create_identity(&app, "customer_9", json!({"plan": "pro"})).await;
    let (key_id, key) = app
        .create_key(&api, json!({"externalId": "customer_9"}))
        .await;
    let data = app.verify(&key).await;
    assert_eq!(
        data["identity"],
        json!({"id": id, "externalId": "customer_9", "meta": {"plan": "pro"}})
    );
    // A change of meta reaches the next verification, though the key was cached.
    app.call(
        "identities.updateIdentity",
        json!({"identity": "customer_9", "meta": {"plan": "free"}}),
    )
    .await;
    assert_eq!(
        app.verify(&key).await["identity"]["meta"],
        json!({"plan": "free"})
    );
    for view in [
        app.call("keys.getKey", json!({"keyId": key_id})).await,
        app.call("apis.listKeys", json!({"apiId": api})).await[0].clone(),
    ] {
        assert_eq!(view["identity"]["meta"], json!({"plan": "free"}));
    }

    // Deleting it: the key keeps working, without identity, at once.
    app.call("identities.deleteIdentity", json!({"identity": id}))
        .await;
    let data = app.verify(&key).await;
    assert_eq!(data["code"], "VALID");
    assert!(data.get("identity").is_none(), "{data}");
    assert!(
        app.call("keys.getKey", json!({"keyId": key_id}))
            .await
            .get("identity")
            .is_none()
    );
    for operation in [
        "identities.getIdentity",
        "identities.updateIdentity",
        "identities.deleteIdentity",
    ] {
        app.post(operation, json!({"identity": id}))
            .await
            .error(404, "/identity_not_found");
    }
    assert_eq!(
        app.call(
            "apis.listKeys",
            json!({"apiId": api, "externalId": "customer_9"})
        )
        .await,
        json!([]),
        "the key is no longer the customer's"
    );
    // Its externalId is free again at once; the old key does not join the new identity.
    let again = create_identity(&app, "customer_9", json!({"plan": "new"})).await;
    assert_ne!(again, id);
    assert!(app.verify(&key).await.get("identity").is_none());
    let (_, new_key) = app
        .create_key(&api, json!({"externalId": "customer_9"}))
        .await;
    assert_eq!(app.verify(&new_key).await["identity"]["id"], json!(again));
    assert_eq!(app.audit_events("identity.delete").await.len(), 1);
}

#[tokio::test]
async fn identity_errors() {
    let app = TestApp::start().await;
    for (operation, body, location) in [
        (
            "identities.createIdentity",
            json!({"externalId": "has space"}),
            "body.externalId",
        ),
        (
            "identities.createIdentity",
            json!({"externalId": ""}),
            "body.externalId",
        ),
        (
            "identities.getIdentity",
            json!({"identity": ""}),
            "body.identity",
        ),
        (
            "identities.listIdentities",
            json!({"limit": 0}),
            "body.limit",
        ),
        (
            "identities.createIdentity",
            json!({"externalId": "u", "ratelimits": [{"name": "requests", "limit": 1, "duration": 999}]}),
            "body.ratelimits[0].duration",
        ),
        (
            "identities.updateIdentity",
            json!({"identity": "u", "ratelimits": [{"name": "requests", "limit": 1, "duration": 1000}, {"name": "requests", "limit": 2, "duration": 1000}]}),
            "body.ratelimits[1].name",
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
    let many: serde_json::Map<String, Value> =
        (0..101).map(|i| (format!("k{i}"), json!(i))).collect();
    app.post(
        "identities.createIdentity",
        json!({"externalId": "u", "meta": many}),
    )
    .await
    .error(400, "/invalid_input");
    assert_eq!(
        app.call("identities.listIdentities", json!({})).await,
        json!([])
    );
    assert!(app.audit_events("identity.create").await.is_empty());
}

#[tokio::test]
async fn identity_operations_are_allowed_denied_and_hidden_from_other_workspaces() {
    let app = TestApp::start().await;
    let ws = app.workspace_id().await;
    let id = create_identity(&app, "seed", json!({})).await;
    let urn = |action: &str| format!("unkey:v1:{ws}:projects/*/identities/*#{action}");
    let unrelated = app.root_key_with(&["api.*.read_api"]).await;
    let stranger = app.other_workspace_root_key().await;
    for (operation, body, action) in [
        (
            "identities.createIdentity",
            json!({"externalId": "made"}),
            "create_identity",
        ),
        (
            "identities.getIdentity",
            json!({"identity": "seed"}),
            "read_identity",
        ),
        ("identities.listIdentities", json!({}), "read_identity"),
        (
            "identities.updateIdentity",
            json!({"identity": "seed", "meta": {"a": 1}}),
            "update_identity",
        ),
    ] {
        app.post_as(Some(&unrelated), operation, body.clone())
            .await
            .error(403, "/insufficient_permissions");
        let tuple = format!("identity.*.{action}");
        let key = app.root_key_with(&[&tuple]).await;
        let with_tuple = match operation {
            "identities.createIdentity" => json!({"externalId": "made_by_tuple"}),
            _ => body.clone(),
        };
        app.post_as(Some(&key), operation, with_tuple).await.data();
        let key = app.root_key_with(&[&urn(action)]).await;
        let with_urn = match operation {
            "identities.createIdentity" => json!({"externalId": "made_by_urn"}),
            _ => body.clone(),
        };
        app.post_as(Some(&key), operation, with_urn).await.data();
        // A URN for one identity is not "every identity", which is what Unkey checks.
        let one = format!("unkey:v1:{ws}:projects/*/identities/{id}#{action}");
        let key = app.root_key_with(&[&one]).await;
        app.post_as(Some(&key), operation, body.clone())
            .await
            .error(403, "/insufficient_permissions");
        let reply = app.post_as(Some(&stranger), operation, body.clone()).await;
        match operation {
            "identities.createIdentity" => {
                reply.data();
            }
            "identities.listIdentities" => {
                assert!(!reply.data().to_string().contains(&id), "{}", reply.body);
            }
            _ => {
                reply.error(404, "/identity_not_found");
            }
        }
    }
    // One identity may be read with its own tuple; a page needs every identity on it.
    let reader = app
        .root_key_with(&[&format!("identity.{id}.read_identity")])
        .await;
    app.post_as(
        Some(&reader),
        "identities.getIdentity",
        json!({"identity": id}),
    )
    .await
    .data();
    let page = app
        .post_as(Some(&reader), "identities.listIdentities", json!({}))
        .await;
    let detail = page.error(403, "/insufficient_permissions");
    assert!(detail.contains("read_identity"), "{detail}");
    // Deleting.
    let deleter_needs = "identity.*.delete_identity";
    app.post_as(
        Some(&unrelated),
        "identities.deleteIdentity",
        json!({"identity": id}),
    )
    .await
    .error(403, "/insufficient_permissions");
    app.post_as(
        Some(&stranger),
        "identities.deleteIdentity",
        json!({"identity": id}),
    )
    .await
    .error(404, "/identity_not_found");
    let deleter = app.root_key_with(&[&urn("delete_identity")]).await;
    app.post_as(
        Some(&deleter),
        "identities.deleteIdentity",
        json!({"identity": "made_by_urn"}),
    )
    .await
    .data();
    let deleter = app.root_key_with(&[deleter_needs]).await;
    app.post_as(
        Some(&deleter),
        "identities.deleteIdentity",
        json!({"identity": id}),
    )
    .await
    .data();
}
