//! The HTTP client of the keyward (Unkey v2) API.
//!
//! Every operation is `POST <api-url>/v2/<group>.<operation>` with a JSON body and
//! `Authorization: Bearer <root key>`; the answer is `{meta, data, pagination?}` or
//! `{meta, error}`. [`Client::post`] returns the success envelope as received (so `--output=json`
//! prints exactly what the server said) with the client-side latency, or a [`CliError`].

use std::time::{Duration, Instant};

use keyward_types::operations::Endpoint;
use keyward_types::{ErrorEnvelope, Pagination};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiFailure, CliError, CliResult};

const TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Client {
    http: reqwest::Client,
    base_url: String,
    authorization: Option<HeaderValue>,
}

/// A 2xx answer.
#[derive(Debug, Clone)]
pub struct Success {
    /// The whole envelope as received, in the server's field order (serde_json's
    /// `preserve_order`), so it prints as the server wrote it.
    pub envelope: Value,
    pub request_id: String,
    /// From sending the request to having read the whole answer.
    pub took: Duration,
}

impl Success {
    pub fn data(&self) -> &Value {
        self.envelope.get("data").unwrap_or(&Value::Null)
    }

    pub fn pagination(&self) -> Option<Pagination> {
        self.envelope
            .get("pagination")
            .and_then(|p| serde_json::from_value(p.clone()).ok())
    }

    /// `data` as the wire type `T`.
    pub fn data_as<T: DeserializeOwned>(&self) -> CliResult<T> {
        serde_json::from_value(self.data().clone()).map_err(|err| {
            CliError::failed(format!(
                "the server's answer ({}) has an unexpected shape: {err}",
                self.request_id
            ))
        })
    }
}

impl Client {
    /// A client for `base_url` (without a trailing slash), authenticating with `root_key` if given.
    pub fn new(base_url: &str, root_key: Option<&str>) -> CliResult<Client> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("keyward-cli/", env!("CARGO_PKG_VERSION")))
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|err| CliError::failed(format!("cannot set up the HTTP client: {err}")))?;
        let authorization = root_key
            .map(|key| {
                let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    CliError::usage(
                        "the root key contains characters that cannot be sent in an HTTP header",
                    )
                })?;
                value.set_sensitive(true);
                Ok::<_, CliError>(value)
            })
            .transpose()?;
        Ok(Client {
            http,
            base_url: base_url.to_owned(),
            authorization,
        })
    }

    /// Calls operation `E` (`POST /v2/<group>.<operation>`) with `body`.
    pub async fn call<E: Endpoint>(&self, body: &E::Request) -> CliResult<Success> {
        let operation = E::OPERATION;
        let mut request = self
            .http
            .post(format!("{}{}", self.base_url, operation.path))
            .json(body);
        if let Some(auth) = &self.authorization {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        self.send(operation.name, request).await
    }

    /// `GET /v2/liveness`, without authentication.
    pub async fn liveness(&self) -> CliResult<Success> {
        let operation = keyward_types::operations::LIVENESS;
        let url = format!("{}{}", self.base_url, operation.path);
        self.send(operation.name, self.http.get(url)).await
    }

    async fn send(&self, operation: &str, request: reqwest::RequestBuilder) -> CliResult<Success> {
        let started = Instant::now();
        let response = request
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|err| self.transport_error(&err))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| self.transport_error(&err))?;
        let took = started.elapsed();
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();

        if (200..300).contains(&status) {
            let Some(envelope) =
                body.filter(|b| b.get("meta").is_some() && b.get("data").is_some())
            else {
                return Err(CliError::failed(format!(
                    "{} answered {operation} with HTTP {status} but not with a keyward envelope: {}. \
                     Is --api-url pointing at a keyward server?",
                    self.base_url,
                    snippet(&bytes)
                )));
            };
            let request_id = envelope
                .pointer("/meta/requestId")
                .and_then(Value::as_str)
                .unwrap_or("(no request id)")
                .to_owned();
            return Ok(Success {
                envelope,
                request_id,
                took,
            });
        }

        let envelope = body
            .as_ref()
            .and_then(|b| serde_json::from_value::<ErrorEnvelope>(b.clone()).ok());
        Err(CliError::Api(Box::new(ApiFailure {
            operation: operation.to_owned(),
            status,
            envelope,
            body: body.unwrap_or_else(|| Value::String(snippet(&bytes))),
        })))
    }

    fn transport_error(&self, err: &reqwest::Error) -> CliError {
        if err.is_connect() {
            return CliError::Unreachable {
                url: self.base_url.clone(),
                cause: root_cause(err),
            };
        }
        if err.is_timeout() {
            return CliError::failed(format!(
                "{} did not answer within {} seconds ({})",
                self.base_url,
                TIMEOUT.as_secs(),
                root_cause(err)
            ));
        }
        CliError::failed(format!(
            "the request to {} failed: {}",
            self.base_url,
            root_cause(err)
        ))
    }
}

/// The innermost cause of a transport error, e.g. "Connection refused (os error 111)".
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// The start of a body that is not JSON, for an error message.
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "an empty body".to_owned();
    }
    let cut: String = text.chars().take(200).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}
