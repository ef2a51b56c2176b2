//! `delete-keys`, `disable-keys`, `enable-keys`: every key of a customer across pages, with a
//! confirmation, a summary, and safe interruption and re-runs.

use std::process::Command;

use serde_json::json;

use crate::support::{TestServer, finish, wait_until};

/// More than one page of `apis.listKeys` (pages hold at most 100 keys).
const KEYS: usize = 130;

#[test]
fn bulk_delete_over_pages_survives_interruptions_and_reruns() {
    let t = TestServer::start();
    let api = t.create_api("bulk");
    let keys: Vec<(String, String)> = (0..KEYS).map(|_| t.create_key(&api, "user_bulk")).collect();
    let (_, bystander) = t.create_key(&api, "user_other");
    let other_api = t.create_api("other");
    let (_, elsewhere) = t.create_key(&other_api, "user_bulk");
    let live = || t.live_keys(&api, "user_bulk").len();
    assert_eq!(live(), KEYS);

    let delete_keys = |pause: &str| {
        t.keyward(&[
            "api",
            "keys",
            "delete-keys",
            "--api-id",
            &api,
            "--external-id",
            "user_bulk",
            "--yes",
            "--pause-ms",
            pause,
        ])
    };

    // 1. Killed (SIGKILL) mid-way: whatever was deleted stays deleted.
    let child = delete_keys("20").spawn();
    wait_until("the first run has deleted some keys", || live() < KEYS);
    let mut child = child;
    child.kill().unwrap();
    child.wait().unwrap();
    // A delete the killed client had in flight may still land on the server: let it settle.
    let mut after_kill = live();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let now = live();
        if now == after_kill {
            break;
        }
        after_kill = now;
    }
    assert!(
        after_kill > 0 && after_kill < KEYS,
        "interrupted mid-way: {after_kill} left"
    );

    // 2. Interrupted with Ctrl-C (SIGINT): stops after the request in flight, reports, exits 130.
    let child = delete_keys("20").spawn();
    wait_until("the second run has deleted some keys", || {
        live() < after_kill
    });
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let interrupted = finish(child);
    interrupted.exit(130);
    assert!(
        interrupted.stdout.contains("Interrupted before"),
        "{}",
        interrupted.stdout
    );
    assert!(
        interrupted.stdout.contains("Run the same command again"),
        "{}",
        interrupted.stdout
    );
    let after_sigint = live();
    assert!(
        after_sigint > 0 && after_sigint < after_kill,
        "{after_sigint} left after {after_kill}"
    );

    // 3. A re-run finishes the job. Keys deleted behind its back after it listed them (here: the
    //    last five it would reach) count as "already gone", not as failures.
    let child = delete_keys("20").args(&["--output=json"]).spawn();
    wait_until("the third run has started deleting", || {
        live() < after_sigint
    });
    let remaining = t.live_keys(&api, "user_bulk");
    let behind_its_back = &remaining[remaining.len() - 5..];
    for key_id in behind_its_back {
        t.call("keys.deleteKey", json!({ "keyId": key_id }));
    }
    let rerun = finish(child);
    rerun.ok();
    let summary = rerun.json();
    assert_eq!(summary["matched"], after_sigint);
    assert_eq!(
        summary["alreadyGone"].as_array().unwrap().len(),
        5,
        "{summary}"
    );
    assert_eq!(
        summary["deleted"].as_array().unwrap().len(),
        after_sigint - 5,
        "{summary}"
    );
    assert_eq!(summary["failed"], json!([]));
    assert_eq!(summary["interrupted"], false);
    for key_id in behind_its_back {
        assert!(
            summary["alreadyGone"]
                .as_array()
                .unwrap()
                .contains(&json!(key_id))
        );
    }

    assert_eq!(live(), 0);
    for (_, key) in &keys {
        assert_eq!(t.verify(key), "NOT_FOUND");
    }
    assert_eq!(
        t.verify(&bystander),
        "VALID",
        "another customer's key is untouched"
    );
    assert_eq!(
        t.verify(&elsewhere),
        "VALID",
        "the same customer in another API is untouched"
    );

    // 4. Nothing left: a clean no-op.
    let done = delete_keys("0").run();
    done.ok();
    assert!(done.stdout.contains("nothing to delete"), "{}", done.stdout);
}

#[test]
fn bulk_delete_reports_counts_in_one_pass_over_several_pages() {
    let t = TestServer::start();
    let api = t.create_api("pages");
    let keys: Vec<(String, String)> = (0..25).map(|_| t.create_key(&api, "user_pages")).collect();
    let out = t
        .keyward(&[
            "api",
            "keys",
            "delete-keys",
            "--api-id",
            &api,
            "--external-id",
            "user_pages",
            "--permanent",
            "-y",
            "--page-size",
            "10",
        ])
        .run();
    out.ok();
    assert!(out.stdout.starts_with(&format!(
        "Permanently deleted the keys of external id 'user_pages' in API {api}:"
    )));
    for line in ["matched", "deleted", "already gone", "failed"] {
        assert!(
            out.stdout.lines().any(|l| l.trim_start().starts_with(line)),
            "{line} in {}",
            out.stdout
        );
    }
    let count = |label: &str| -> u64 {
        let line = out
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap();
        line.split_whitespace().last().unwrap().parse().unwrap()
    };
    assert_eq!(
        (
            count("matched"),
            count("deleted"),
            count("already gone"),
            count("failed")
        ),
        (25, 25, 0, 0)
    );
    assert!(
        out.stderr.is_empty(),
        "no progress bar off a terminal: {}",
        out.stderr
    );
    for (key_id, _) in &keys {
        let (status, _) = t.call_with(
            crate::support::ROOT_KEY,
            "keys.getKey",
            json!({ "keyId": key_id }),
        );
        assert_eq!(status, 404);
    }
}

#[test]
fn bulk_refuses_without_yes_off_a_terminal() {
    let t = TestServer::start();
    let api = t.create_api("careful");
    let (_, key) = t.create_key(&api, "user_1");
    for command in ["delete-keys", "disable-keys"] {
        let out = t
            .keyward(&[
                "api",
                "keys",
                command,
                "--api-id",
                &api,
                "--external-id",
                "user_1",
            ])
            .run();
        out.exit(2);
        assert!(
            out.stderr.contains("not a terminal") && out.stderr.contains("--yes"),
            "{}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(t.verify(&key), "VALID", "nothing was changed");
}

#[test]
fn bulk_disable_and_enable() {
    let t = TestServer::start();
    let api = t.create_api("suspend");
    let keys: Vec<(String, String)> = (0..3).map(|_| t.create_key(&api, "user_late")).collect();
    let (_, other) = t.create_key(&api, "user_paid");
    let run = |command: &str| {
        t.keyward(&[
            "api",
            "keys",
            command,
            "--api-id",
            &api,
            "--external-id",
            "user_late",
            "--yes",
            "--output=json",
        ])
        .run()
    };

    let disabled = run("disable-keys");
    disabled.ok();
    let summary = disabled.json();
    assert_eq!(
        (
            summary["matched"].clone(),
            summary["disabled"].as_array().unwrap().len()
        ),
        (json!(3), 3)
    );
    for (_, key) in &keys {
        assert_eq!(t.verify(key), "DISABLED");
    }
    assert_eq!(t.verify(&other), "VALID");

    let again = run("disable-keys");
    again.ok();
    assert_eq!(again.json()["alreadyDisabled"].as_array().unwrap().len(), 3);

    let enabled = t
        .keyward(&[
            "api",
            "keys",
            "enable-keys",
            "--api-id",
            &api,
            "--external-id",
            "user_late",
            "--yes",
        ])
        .run();
    enabled.ok();
    assert!(
        enabled
            .stdout
            .starts_with("Enabled the keys of external id 'user_late'"),
        "{}",
        enabled.stdout
    );
    for (_, key) in &keys {
        assert_eq!(t.verify(key), "VALID");
    }
}

#[test]
fn bulk_failures_are_listed_and_exit_1() {
    let t = TestServer::start();
    let api = t.create_api("forbidden");
    let keys: Vec<(String, String)> = (0..3).map(|_| t.create_key(&api, "user_1")).collect();
    let lister = t.root_key_with(&["api.*.read_api", "api.*.read_key"]);
    let out = t
        .keyward(&[
            "api",
            "keys",
            "delete-keys",
            "--api-id",
            &api,
            "--external-id",
            "user_1",
            "--yes",
            "--root-key",
            &lister,
        ])
        .run();
    out.exit(1);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("failed") && l.ends_with(" 3")),
        "{}",
        out.stdout
    );
    for (key_id, key) in &keys {
        assert!(
            out.stdout
                .contains(&format!("{key_id}: Permission denied: ")),
            "{}",
            out.stdout
        );
        assert_eq!(t.verify(key), "VALID");
    }

    // A listing that fails (unknown API) is an ordinary API error.
    let out = t
        .keyward(&[
            "api",
            "keys",
            "delete-keys",
            "--api-id",
            "api_unknown1",
            "--external-id",
            "user_1",
            "--yes",
        ])
        .run();
    out.exit(1);
    assert!(out.stderr.starts_with("Not found: "), "{}", out.stderr);
}
