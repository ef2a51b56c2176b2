//! `keyward api apis …` in each output mode.

use crate::support::TestServer;

#[test]
fn apis_lifecycle_in_every_output_mode() {
    let t = TestServer::start();

    // Default output: the request line, a blank line, then `data`.
    let created = t
        .keyward(&["api", "apis", "create-api", "--name", "payments"])
        .run();
    created.ok();
    let (request_id, data) = created.default_output();
    assert!(request_id.starts_with("req_"));
    let api_id = data["apiId"].as_str().unwrap().to_owned();

    // --output=json: the whole envelope and nothing else.
    let got = t
        .keyward(&[
            "api",
            "apis",
            "get-api",
            "--api-id",
            &api_id,
            "--output=json",
        ])
        .run();
    got.ok();
    let envelope = got.json();
    assert!(
        envelope["meta"]["requestId"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    assert_eq!(envelope["data"]["name"], "payments");
    assert_eq!(envelope["data"]["deleteProtection"], false);
    assert!(
        got.stdout.trim_start().starts_with("{\n  \"meta\""),
        "meta first, as the server sent it:\n{}",
        got.stdout
    );

    // --output=table on an object: one row per field.
    let table = t
        .keyward(&[
            "api", "apis", "get-api", "--api-id", &api_id, "--output", "table",
        ])
        .run();
    table.ok();
    assert!(
        table.stdout.contains("FIELD") && table.stdout.contains("payments"),
        "{}",
        table.stdout
    );

    // An empty `data` prints `{}`, exactly as the seed shows.
    let protect = t
        .keyward(&[
            "api",
            "apis",
            "update-api",
            "--api-id",
            &api_id,
            "--delete-protection",
        ])
        .run();
    protect.ok();
    let (request_id, _) = protect.default_output();
    let first_line = protect.stdout.lines().next().unwrap();
    assert_eq!(protect.stdout, format!("{first_line}\n\n{{}}\n"));
    assert!(first_line.starts_with(&format!("{request_id} (took ")));

    // 412 while protected, readable on stderr.
    let refused = t
        .keyward(&["api", "apis", "delete-api", "--api-id", &api_id])
        .run();
    refused.exit(1);
    assert!(
        refused
            .stderr
            .contains("Resource is protected (412): This API has delete protection enabled"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty());

    t.keyward(&[
        "api",
        "apis",
        "update-api",
        "--api-id",
        &api_id,
        "--delete-protection=false",
        "--name",
        "payments-eu",
    ])
    .run()
    .ok();
    assert_eq!(
        t.keyward(&["api", "apis", "get-api", "--api-id", &api_id])
            .run()
            .data()["name"],
        "payments-eu"
    );

    let deleted = t
        .keyward(&[
            "api",
            "apis",
            "delete-api",
            "--api-id",
            &api_id,
            "--output=json",
        ])
        .run();
    deleted.ok();
    assert_eq!(deleted.json()["data"], serde_json::json!({}));
    let gone = t
        .keyward(&["api", "apis", "get-api", "--api-id", &api_id])
        .run();
    gone.exit(1);
    assert!(gone.stderr.starts_with("Not found: "), "{}", gone.stderr);

    // Deleted, it can still be erased for good, once.
    let erase = [
        "api",
        "apis",
        "delete-api",
        "--api-id",
        &api_id,
        "--permanent",
    ];
    t.keyward(&erase).run().ok();
    let erased = t.keyward(&erase).run();
    erased.exit(1);
    assert!(
        erased.stderr.starts_with("Not found: "),
        "{}",
        erased.stderr
    );
}

#[test]
fn list_keys_pages_in_every_output_mode() {
    let t = TestServer::start();
    let api = t.create_api("listing");
    let (first, _) = t.create_key(&api, "user_1");
    let (second, _) = t.create_key(&api, "user_1");
    t.create_key(&api, "user_2");

    let page = t
        .keyward(&[
            "api",
            "apis",
            "list-keys",
            "--api-id",
            &api,
            "--external-id",
            "user_1",
            "--limit",
            "1",
        ])
        .run();
    page.ok();
    let data = page.data();
    assert_eq!(data.as_array().unwrap().len(), 1);
    assert_eq!(data[0]["keyId"], first.as_str());
    // The next cursor goes to stderr, so stdout stays as the seed shows.
    assert!(
        page.stderr.contains(&format!("--cursor={first}")),
        "{}",
        page.stderr
    );

    let next = t
        .keyward(&[
            "api",
            "apis",
            "list-keys",
            "--api-id",
            &api,
            "--external-id=user_1",
            "--cursor",
            &first,
            "--output=json",
        ])
        .run();
    next.ok();
    let envelope = next.json();
    assert_eq!(envelope["data"][0]["keyId"], second.as_str());
    assert_eq!(envelope["pagination"]["hasMore"], false);

    let table = t
        .keyward(&[
            "api",
            "apis",
            "list-keys",
            "--api-id",
            &api,
            "--output=table",
        ])
        .run();
    table.ok();
    for expected in [
        "KEY ID",
        "EXTERNAL ID",
        "CREATED",
        first.as_str(),
        second.as_str(),
        "user_2",
    ] {
        assert!(
            table.stdout.contains(expected),
            "{expected} in\n{}",
            table.stdout
        );
    }
}

#[test]
fn update_api_needs_something_to_change() {
    let t = TestServer::start();
    let out = t
        .keyward(&["api", "apis", "update-api", "--api-id", "api_1234abcd"])
        .run();
    out.exit(2);
    assert!(
        out.stderr.contains("--name") && out.stderr.contains("--delete-protection"),
        "{}",
        out.stderr
    );
}
