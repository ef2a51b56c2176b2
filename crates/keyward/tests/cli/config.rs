//! Flag > environment > config file > default, for the root key, the API URL and the config path
//! (with Unkey's variable names as fallbacks), seen both in `config show` and in real calls.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::support::{ROOT_KEY, TestServer, closed_port_url};

fn write_config(path: &std::path::Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn sources(out: &crate::support::Out) -> (String, String, String) {
    out.ok();
    let v = out.json();
    let s = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    (
        s(&v["apiUrl"]["source"]),
        s(&v["rootKey"]["source"]),
        s(&v["configFile"]["source"]),
    )
}

#[test]
fn flag_beats_env_beats_config_beats_default() {
    let t = TestServer::start();
    let api = t.create_api("precedence");
    let get = ["api", "apis", "get-api", "--api-id", api.as_str()];
    let dead = closed_port_url();

    // Nothing configured: the default URL, no root key.
    let shown = t.bare(&["config", "show", "--output=json"]).run();
    assert_eq!(
        sources(&shown),
        ("default".into(), "-".into(), "default".into())
    );
    assert_eq!(shown.json()["apiUrl"]["value"], "http://127.0.0.1:7070");
    assert_eq!(shown.json()["configFile"]["exists"], false);

    // The config file: the right server, a wrong root key.
    write_config(
        &t.default_config_path(),
        &format!(
            "api_url = \"{}\"\nroot_key = \"wrong_root_key_from_config\"\n",
            t.url
        ),
    );
    let shown = t.bare(&["config", "show", "--output=json"]).run();
    assert_eq!(
        sources(&shown),
        ("config file".into(), "config file".into(), "default".into())
    );
    assert_eq!(shown.json()["apiUrl"]["value"], t.url.as_str());
    t.bare(&get).run().exit(1);

    // Unkey's variables beat the config file…
    let unkey = || {
        t.bare(&get)
            .env("UNKEY_ROOT_KEY", ROOT_KEY)
            .env("UNKEY_API_BASE_URL", &t.url)
    };
    unkey().run().ok();
    let shown = t
        .bare(&["config", "show", "--output=json"])
        .env("UNKEY_ROOT_KEY", ROOT_KEY)
        .env("UNKEY_API_BASE_URL", &t.url)
        .run();
    assert_eq!(
        sources(&shown),
        (
            "env UNKEY_API_BASE_URL".into(),
            "env UNKEY_ROOT_KEY".into(),
            "default".into()
        )
    );

    // …keyward's beat Unkey's…
    let keyward = || {
        unkey()
            .env("KEYWARD_ROOT_KEY", "wrong_root_key_from_env")
            .env("KEYWARD_API_URL", &dead)
    };
    let out = keyward().run();
    out.exit(1);
    assert!(
        out.stderr.contains(&dead),
        "KEYWARD_API_URL wins: {}",
        out.stderr
    );
    let out = keyward().args(&["--api-url", &t.url]).run();
    out.exit(1);
    assert!(
        out.stderr.starts_with("Authentication failed"),
        "KEYWARD_ROOT_KEY wins: {}",
        out.stderr
    );

    // …and flags beat everything.
    keyward()
        .args(&["--api-url", &t.url, "--root-key", ROOT_KEY])
        .run()
        .ok();
    let shown = t
        .bare(&[
            "config",
            "show",
            "--output=json",
            "--api-url",
            &t.url,
            "--root-key",
            ROOT_KEY,
        ])
        .env("KEYWARD_ROOT_KEY", "x_from_env")
        .env("KEYWARD_API_URL", &dead)
        .run();
    assert_eq!(
        sources(&shown),
        (
            "flag --api-url".into(),
            "flag --root-key".into(),
            "default".into()
        )
    );
}

#[test]
fn config_path_from_flag_or_env() {
    let t = TestServer::start();
    let api = t.create_api("paths");
    let elsewhere = t.home.path().join("elsewhere/staging.toml");
    write_config(
        &elsewhere,
        &format!("api_url = \"{}\"\nroot_key = \"{ROOT_KEY}\"\n", t.url),
    );
    let path = elsewhere.to_str().unwrap();

    t.bare(&["api", "apis", "get-api", "--api-id", &api])
        .run()
        .exit(2);
    t.bare(&["api", "apis", "get-api", "--api-id", &api, "--config", path])
        .run()
        .ok();
    t.bare(&["api", "apis", "get-api", "--api-id", &api])
        .env("KEYWARD_CONFIG", path)
        .run()
        .ok();

    let shown = t
        .bare(&["config", "show", "--output=json"])
        .env("KEYWARD_CONFIG", path)
        .run();
    assert_eq!(sources(&shown).2, "env KEYWARD_CONFIG");
    let shown = t
        .bare(&["config", "show", "--output=json", "--config", path])
        .env("KEYWARD_CONFIG", "/nowhere")
        .run();
    assert_eq!(sources(&shown).2, "flag --config");
    assert_eq!(shown.json()["configFile"]["path"], path);

    // A broken config file is a usage error naming the file.
    write_config(&t.default_config_path(), "root_key = \n");
    let out = t.bare(&["config", "show"]).run();
    out.exit(2);
    assert!(
        out.stderr.contains("config.toml") && out.stderr.contains("TOML"),
        "{}",
        out.stderr
    );
}

#[test]
fn config_show_masks_the_root_key() {
    let t = TestServer::start();
    let long_key = t.root_key_with(&["api.*.read_api"]);
    for output in ["default", "json", "table"] {
        let out = t.keyward(&["config", "show", "--output", output]).run();
        out.ok();
        assert!(!out.stdout.contains(ROOT_KEY), "{output}: {}", out.stdout);
        let out = t
            .bare(&[
                "config",
                "show",
                "--output",
                output,
                "--root-key",
                &long_key,
            ])
            .run();
        out.ok();
        assert!(!out.stdout.contains(&long_key), "{output}: {}", out.stdout);
        let tail = &long_key[long_key.len() - 4..];
        assert!(
            out.stdout.contains(&format!("kwroot_…{tail}")),
            "{output}: {}",
            out.stdout
        );
        assert!(
            out.stdout.contains("flag --root-key"),
            "{output}: {}",
            out.stdout
        );
    }
    let out = t.keyward(&["config", "show"]).run();
    assert!(
        out.stdout.contains("root_key") && out.stdout.contains("(env KEYWARD_ROOT_KEY)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("api_url      {} (env KEYWARD_API_URL)", t.url)),
        "{}",
        out.stdout
    );
}

#[test]
fn a_config_file_others_can_read_gets_a_warning() {
    let t = TestServer::start();
    let path = t.default_config_path();
    write_config(
        &path,
        &format!("root_key = \"{ROOT_KEY}\"\napi_url = \"{}\"\n", t.url),
    );
    let quiet = t.bare(&["config", "show"]).run();
    quiet.ok();
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let warned = t.bare(&["config", "show"]).run();
    warned.ok();
    assert!(
        warned.stderr.contains("readable by others") && warned.stderr.contains("chmod 600"),
        "{}",
        warned.stderr
    );
}
