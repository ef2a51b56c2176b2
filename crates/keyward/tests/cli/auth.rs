//! `keyward auth login|logout`: the key is read from stdin off a terminal, checked against the
//! server, and saved with mode 0600.

use std::os::unix::fs::PermissionsExt;

use crate::support::{ROOT_KEY, TestServer, closed_port_url};

#[test]
fn login_checks_and_saves_the_key_and_logout_removes_it() {
    let t = TestServer::start();
    let api = t.create_api("auth");
    let config = t.default_config_path();

    // A key the server does not know is refused, and nothing is written.
    let refused = t
        .bare(&["auth", "login", "--api-url", &t.url])
        .stdin("not_a_root_key_at_all\n")
        .run();
    refused.exit(1);
    assert!(
        refused.stderr.contains("rejected this root key"),
        "{}",
        refused.stderr
    );
    assert!(!config.exists());

    let login = t
        .bare(&["auth", "login"])
        .env("KEYWARD_API_URL", &t.url)
        .stdin(&format!("{ROOT_KEY}\n"))
        .run();
    login.ok();
    assert!(login.stdout.contains("Logged in"), "{}", login.stdout);
    assert!(
        !login.stdout.contains(ROOT_KEY) && !login.stderr.contains(ROOT_KEY),
        "the key is never echoed"
    );
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let saved: toml::Table = std::fs::read_to_string(&config).unwrap().parse().unwrap();
    assert_eq!(saved["root_key"].as_str(), Some(ROOT_KEY));
    assert_eq!(
        saved["api_url"].as_str(),
        Some(t.url.as_str()),
        "the server given in the environment is remembered"
    );

    // From now on, no flag or variable is needed.
    t.bare(&["api", "apis", "get-api", "--api-id", &api])
        .run()
        .ok();
    let shown = t.bare(&["config", "show", "--output=json"]).run();
    assert_eq!(shown.json()["rootKey"]["source"], "config file");

    let logout = t.bare(&["auth", "logout"]).run();
    logout.ok();
    assert!(logout.stdout.contains("Logged out"), "{}", logout.stdout);
    let saved: toml::Table = std::fs::read_to_string(&config).unwrap().parse().unwrap();
    assert!(
        saved.get("root_key").is_none() && saved.get("api_url").is_some(),
        "{saved:?}"
    );
    t.bare(&["api", "apis", "get-api", "--api-id", &api])
        .run()
        .exit(2);

    let again = t.bare(&["auth", "logout"]).run();
    again.ok();
    assert!(again.stdout.contains("Not logged in"), "{}", again.stdout);
}

#[test]
fn login_to_its_own_config_file_and_logout_removes_an_empty_one() {
    let t = TestServer::start();
    let path = t.home.path().join("dir/keyward.toml");
    let path_str = path.to_str().unwrap();
    let limited = t.root_key_with(&["api.*.verify_key"]);
    // A valid key without `read_api` is still a valid key.
    t.bare(&["auth", "login", "--config", path_str, "--api-url", &t.url])
        .stdin(&limited)
        .run()
        .ok();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let shown = t
        .bare(&["config", "show", "--output=json", "--config", path_str])
        .run();
    assert_eq!(shown.json()["apiUrl"]["value"], t.url.as_str());

    // Overwriting keeps the mode; logging out of a file holding only the key removes it.
    std::fs::write(&path, format!("root_key = \"{limited}\"\n")).unwrap();
    t.bare(&["auth", "logout", "--config", path_str]).run().ok();
    assert!(!path.exists());
}

#[test]
fn login_needs_a_key_and_a_server() {
    let t = TestServer::start();
    let empty = t
        .bare(&["auth", "login", "--api-url", &t.url])
        .stdin("\n")
        .run();
    empty.exit(2);
    let dead = closed_port_url();
    let out = t
        .bare(&["auth", "login", "--api-url", &dead])
        .stdin(ROOT_KEY)
        .run();
    out.exit(1);
    assert!(
        out.stderr.contains(&dead) && out.stderr.contains("keyward serve"),
        "{}",
        out.stderr
    );
    assert!(!t.default_config_path().exists());
}
