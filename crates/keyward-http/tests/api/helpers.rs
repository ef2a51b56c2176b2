//! `TestApp`: a server per test, and typed helpers for the calls tests make again and again.

use keyward_http::{ServeConfig, Server};
pub use keyward_testing::TestStorage;
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const ROOT_KEY: &str = "test_bootstrap_root_key_0123456789";

/// Every authenticated `POST /v2/<operation>` keyward serves: the operation registry's.
pub fn operations() -> impl Iterator<Item = &'static str> {
    keyward_types::operations::ALL.iter().map(|op| op.name)
}

/// A server on its own storage: a temporary data directory and, on PostgreSQL
/// (`KEYWARD_TEST_DATABASE=postgres`), a database of its own, dropped with it.
pub struct TestApp {
    pub server: Server,
    pub url: String,
    pub client: reqwest::Client,
    pub storage: TestStorage,
}

/// The settings of a server on `storage`, listening on a free port of 127.0.0.1.
pub fn serve_config(storage: &TestStorage) -> ServeConfig {
    ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: storage.data_dir().to_path_buf(),
        database_url: storage.database_url(),
        ..ServeConfig::default()
    }
}

/// A response: status and parsed JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn data(&self) -> &Value {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "expected 200, got {}: {}",
            self.status,
            self.body
        );
        &self.body["data"]
    }

    /// Asserts an error response: status, the `type` URL's last segments, a request id, and a
    /// non-empty detail. Returns the detail.
    pub fn error(&self, status: u16, type_suffix: &str) -> String {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status: {}",
            self.body
        );
        let error = &self.body["error"];
        let type_url = error["type"].as_str().unwrap_or_default();
        assert!(
            type_url.starts_with("https://unkey.com/docs/errors/")
                && type_url.ends_with(type_suffix),
            "type {type_url} should end with {type_suffix}: {}",
            self.body
        );
        assert_eq!(error["status"], status, "{}", self.body);
        assert!(
            self.body["meta"]["requestId"]
                .as_str()
                .unwrap_or_default()
                .starts_with("req_")
        );
        let detail = error["detail"].as_str().unwrap_or_default().to_owned();
        assert!(
            detail.len() > 10,
            "a detail that says what to fix: {}",
            self.body
        );
        detail
    }

    /// Locations of the field errors of a 400.
    pub fn error_locations(&self) -> Vec<String> {
        self.body["error"]["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["location"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::start_in(TestStorage::new()).await
    }

    /// A server on `storage` (a restart, when an earlier server used it).
    pub async fn start_in(storage: TestStorage) -> TestApp {
        Self::start_with(storage, |_| {}).await
    }

    /// A server on `storage` with the test settings, changed by `adjust`.
    pub async fn start_with(
        storage: TestStorage,
        adjust: impl FnOnce(&mut ServeConfig),
    ) -> TestApp {
        let mut config = ServeConfig {
            bootstrap_root_key: Some(ROOT_KEY.to_owned()),
            ..serve_config(&storage)
        };
        adjust(&mut config);
        let server = Server::start(config).await.expect("server starts");
        let url = server.url();
        TestApp {
            server,
            url,
            client: reqwest::Client::new(),
            storage,
        }
    }

    /// The URL of this server's database, for a second server sharing it.
    pub fn database_url(&self) -> String {
        self.storage.url()
    }

    /// POSTs `body` to `/v2/<operation>` with `root_key` as bearer (none if `None`).
    pub async fn post_as(&self, root_key: Option<&str>, operation: &str, body: Value) -> Reply {
        let mut request = self
            .client
            .post(format!("{}/v2/{operation}", self.url))
            .json(&body);
        if let Some(key) = root_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let body = response.json().await.expect("JSON body");
        Reply { status, body }
    }

    /// POSTs with the bootstrap root key (every permission).
    pub async fn post(&self, operation: &str, body: Value) -> Reply {
        self.post_as(Some(ROOT_KEY), operation, body).await
    }

    /// POSTs with the bootstrap root key and returns `data`, asserting 200.
    pub async fn call(&self, operation: &str, body: Value) -> Value {
        self.post(operation, body).await.data().clone()
    }

    pub async fn create_api(&self) -> String {
        let data = self
            .call("apis.createApi", json!({"name": "test-api"}))
            .await;
        data["apiId"].as_str().expect("apiId").to_owned()
    }

    /// Creates a key with `extra` fields; returns (keyId, key).
    pub async fn create_key(&self, api_id: &str, extra: Value) -> (String, String) {
        let mut body = json!({"apiId": api_id});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        let data = self.call("keys.createKey", body).await;
        (
            data["keyId"].as_str().unwrap().to_owned(),
            data["key"].as_str().unwrap().to_owned(),
        )
    }

    /// Verifies `key` with the bootstrap root key; returns `data`.
    pub async fn verify(&self, key: &str) -> Value {
        self.call("keys.verifyKey", json!({"key": key})).await
    }

    pub async fn verify_code(&self, key: &str) -> String {
        self.verify(key).await["code"].as_str().unwrap().to_owned()
    }

    /// A new root key of the bootstrap workspace holding exactly `permissions`.
    pub async fn root_key_with(&self, permissions: &[&str]) -> String {
        let data = self
            .call(
                "rootKeys.createRootKey",
                json!({"name": "limited", "permissions": permissions}),
            )
            .await;
        data["key"].as_str().unwrap().to_owned()
    }

    /// A new root key of the bootstrap workspace holding exactly `permissions`: (keyId, key).
    pub async fn root_key_id_with(&self, permissions: &[&str]) -> (String, String) {
        let data = self
            .call(
                "rootKeys.createKey",
                json!({"name": "limited", "permissions": permissions}),
            )
            .await;
        (
            data["keyId"].as_str().unwrap().to_owned(),
            data["key"].as_str().unwrap().to_owned(),
        )
    }

    /// The bootstrap workspace's id (what URN permissions name).
    pub async fn workspace_id(&self) -> String {
        let events = self.call("auditLogs.listLogs", json!({"limit": 1})).await;
        events[0]["workspaceId"].as_str().unwrap().to_owned()
    }

    /// The root key of a newly created, separate workspace.
    pub async fn other_workspace_root_key(&self) -> String {
        let data = self
            .call("workspaces.createWorkspace", json!({"name": "other"}))
            .await;
        data["rootKey"]["key"].as_str().unwrap().to_owned()
    }

    /// The text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The value of one sample line of `/metrics`, e.g. `keyward_cache_loads_total{cache="keys"}`.
    pub async fn metric(&self, sample: &str) -> u64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|line| {
                line.strip_prefix(sample)
                    .and_then(|rest| rest.trim().parse().ok())
            })
            .unwrap_or_else(|| panic!("metric {sample} not found in:\n{text}"))
    }

    /// Audit events of the bootstrap workspace with `event`, newest first.
    pub async fn audit_events(&self, event: &str) -> Vec<Value> {
        let data = self
            .call("auditLogs.listLogs", json!({"event": event}))
            .await;
        data.as_array().unwrap().clone()
    }
}
