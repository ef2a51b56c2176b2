//! Every error class and its exit code: 400 with field errors, 401, 403, 404, 412, an
//! unreachable server (exit 1) and usage errors (exit 2).

use crate::support::{ROOT_KEY, TestServer, closed_port_url};

#[test]
fn bad_request_lists_each_field_error() {
    let t = TestServer::start();
    let out = t
        .keyward(&["api", "apis", "create-api", "--name", "ab"])
        .run();
    out.exit(1);
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout by default: {}",
        out.stdout
    );
    let mut lines = out.stderr.lines();
    assert!(
        lines.next().unwrap().starts_with("Invalid request: "),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("\n  body.name: must be 3 to 256 characters long"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("request id: req_"), "{}", out.stderr);

    // With --output=json the error envelope goes to stdout as well, for scripts.
    let json = t
        .keyward(&["api", "apis", "create-api", "--name", "ab", "--output=json"])
        .run();
    json.exit(1);
    let envelope = json.json();
    assert_eq!(envelope["error"]["status"], 400);
    assert_eq!(envelope["error"]["errors"][0]["location"], "body.name");
    assert!(
        envelope["meta"]["requestId"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    assert!(
        json.stderr.starts_with("Invalid request: "),
        "{}",
        json.stderr
    );
}

#[test]
fn unknown_root_key_hints_at_auth_login() {
    let t = TestServer::start();
    let out = t
        .keyward(&[
            "api",
            "apis",
            "create-api",
            "--name",
            "payments",
            "--root-key",
            "not_a_real_root_key_1234",
        ])
        .run();
    out.exit(1);
    assert!(
        out.stderr.starts_with("Authentication failed: "),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("keyward auth login"), "{}", out.stderr);

    let json = t
        .keyward(&[
            "api",
            "apis",
            "create-api",
            "--name=payments",
            "--root-key=nope_nope_nope",
            "--output=json",
        ])
        .run();
    json.exit(1);
    assert_eq!(json.json()["error"]["status"], 401);
}

#[test]
fn missing_permission_is_permission_denied() {
    let t = TestServer::start();
    let reader = t.root_key_with(&["api.*.read_api"]);
    let out = t
        .keyward(&[
            "api",
            "apis",
            "create-api",
            "--name",
            "payments",
            "--root-key",
            &reader,
        ])
        .run();
    out.exit(1);
    assert!(
        out.stderr.starts_with("Permission denied: "),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("api.*.create_api"), "{}", out.stderr);
}

#[test]
fn not_found_and_precondition_failed() {
    let t = TestServer::start();
    let out = t
        .keyward(&["api", "keys", "get-key", "--key-id", "key_doesnotexist"])
        .run();
    out.exit(1);
    assert!(
        out.stderr
            .starts_with("Not found: The key 'key_doesnotexist'"),
        "{}",
        out.stderr
    );

    let api = t.create_api("decrypting");
    let out = t
        .keyward(&["api", "apis", "list-keys", "--api-id", &api, "--decrypt"])
        .run();
    out.exit(1);
    assert!(
        out.stderr.starts_with("Precondition Failed (412): "),
        "{}",
        out.stderr
    );
    let json = t
        .keyward(&[
            "api",
            "apis",
            "list-keys",
            "--api-id",
            &api,
            "--decrypt",
            "--output=json",
        ])
        .run();
    json.exit(1);
    assert_eq!(json.json()["error"]["status"], 412);
}

#[test]
fn unreachable_server_names_the_url_and_how_to_start_one() {
    let t = TestServer::start();
    let url = closed_port_url();
    for output in ["default", "json"] {
        let out = t
            .bare(&[
                "api",
                "apis",
                "get-api",
                "--api-id",
                "api_1234abcd",
                "--api-url",
                &url,
                "--output",
                output,
            ])
            .env("KEYWARD_ROOT_KEY", ROOT_KEY)
            .run();
        out.exit(1);
        assert!(
            out.stdout.is_empty(),
            "no envelope to print: {}",
            out.stdout
        );
        assert!(out.stderr.contains(&url), "{}", out.stderr);
        assert!(out.stderr.contains("keyward serve"), "{}", out.stderr);
    }
}

#[test]
fn usage_errors_exit_2() {
    let t = TestServer::start();
    let cases: &[(&[&str], &str)] = &[
        (&["api", "keys", "delete-key"], "--key-id"),
        (
            &[
                "api",
                "keys",
                "delete-key",
                "--key-id",
                "key_1",
                "--no-such-flag",
            ],
            "--no-such-flag",
        ),
        (
            &[
                "api",
                "keys",
                "create-key",
                "--api-id",
                "api_1",
                "--meta-json",
                "{not json",
            ],
            "--meta-json",
        ),
        (
            &[
                "api",
                "keys",
                "create-key",
                "--api-id",
                "api_1",
                "--credits-json",
                r#"{"remain":1}"#,
            ],
            "unknown field",
        ),
        (
            &[
                "api",
                "keys",
                "update-credits",
                "--key-id",
                "key_1",
                "--operation",
                "double",
            ],
            "--operation",
        ),
        (
            &[
                "api", "apis", "get-api", "--api-id", "api_1", "--output", "xml",
            ],
            "--output",
        ),
        (
            &[
                "api",
                "apis",
                "get-api",
                "--api-id",
                "api_1",
                "--api-url",
                "localhost:7070",
            ],
            "API URL",
        ),
        (&["api", "nothing"], "nothing"),
        (&["api"], "Usage"),
    ];
    for (args, mentions) in cases {
        let out = t.keyward(args).run();
        out.exit(2);
        assert!(
            out.stderr.contains(mentions),
            "{args:?}: {mentions} in {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }

    // No root key anywhere: a usage error that says how to provide one.
    let out = t
        .bare(&["api", "apis", "get-api", "--api-id", "api_1234abcd"])
        .env("KEYWARD_API_URL", &t.url)
        .run();
    out.exit(2);
    for mention in ["--root-key", "KEYWARD_ROOT_KEY", "keyward auth login"] {
        assert!(out.stderr.contains(mention), "{mention} in {}", out.stderr);
    }
}
