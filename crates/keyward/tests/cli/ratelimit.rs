//! `keyward api ratelimit …` and `--ratelimits-json` on keys and identities, end to end.

use serde_json::json;

use crate::support::TestServer;

#[test]
fn the_limiter_and_its_overrides() {
    let t = TestServer::start();
    let limit = |identifier: &str| {
        let out = t
            .keyward(&[
                "api",
                "ratelimit",
                "limit",
                "--namespace=email",
                &format!("--identifier={identifier}"),
                "--limit=2",
                "--duration=3600000",
            ])
            .run();
        out.ok();
        out.data()
    };
    assert_eq!(limit("user_1")["remaining"], 1);
    assert_eq!(limit("user_1")["remaining"], 0);
    assert_eq!(limit("user_1")["success"], false);

    let set = t
        .keyward(&[
            "api",
            "ratelimit",
            "set-override",
            "--namespace=email",
            "--identifier=*@acme.com",
            "--limit=5",
            "--duration=3600000",
        ])
        .run();
    set.ok();
    let override_id = set.data()["overrideId"].as_str().unwrap().to_owned();
    let got = t
        .keyward(&[
            "api",
            "ratelimit",
            "get-override",
            "--namespace=email",
            "--identifier=ceo@acme.com",
        ])
        .run();
    got.ok();
    assert_eq!(got.data()["overrideId"], override_id.as_str());
    assert_eq!(limit("ceo@acme.com")["overrideId"], override_id.as_str());
    let listed = t
        .keyward(&[
            "api",
            "ratelimit",
            "list-overrides",
            "--namespace=email",
            "--output=table",
        ])
        .run();
    listed.ok();
    assert!(listed.stdout.contains("*@acme.com"), "{}", listed.stdout);

    let multi = t
        .keyward(&[
            "api",
            "ratelimit",
            "multi-limit",
            r#"--limits-json=[{"namespace":"email","identifier":"user_2","limit":10,"duration":60000},{"namespace":"email","identifier":"user_1","limit":2,"duration":3600000}]"#,
        ])
        .run();
    multi.ok();
    assert_eq!(multi.data()["passed"], false);
    assert_eq!(multi.data()["limits"][0]["passed"], true);
    t.keyward(&[
        "api",
        "ratelimit",
        "delete-override",
        "--namespace=email",
        "--identifier=*@acme.com",
    ])
    .run()
    .ok();
    let gone = t
        .keyward(&[
            "api",
            "ratelimit",
            "get-override",
            "--namespace=email",
            "--identifier=ceo@acme.com",
        ])
        .run();
    gone.exit(1);
    assert!(gone.stderr.contains("Not found"), "{}", gone.stderr);
    // Malformed JSON is a usage error, before any request.
    t.keyward(&["api", "ratelimit", "multi-limit", "--limits-json=[{"])
        .run()
        .exit(2);
}

#[test]
fn limits_of_keys_and_identities() {
    let t = TestServer::start();
    t.keyward(&[
        "api",
        "identities",
        "create-identity",
        "--external-id=org_1",
        r#"--ratelimits-json=[{"name":"shared","limit":1,"duration":60000,"autoApply":true}]"#,
    ])
    .run()
    .ok();
    let identity = t.call("identities.getIdentity", json!({"identity": "org_1"}));
    assert_eq!(identity["ratelimits"][0]["name"], "shared");
    let api = t.create_api("limited");
    let (_, key) = t.create_key(&api, "org_1");
    assert_eq!(t.verify(&key), "VALID");
    assert_eq!(t.verify(&key), "RATE_LIMITED");
    t.keyward(&[
        "api",
        "identities",
        "update-identity",
        "--identity=org_1",
        "--ratelimits-json=[]",
    ])
    .run()
    .ok();
    assert_eq!(t.verify(&key), "VALID");
}
