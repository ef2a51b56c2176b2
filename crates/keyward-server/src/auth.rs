//! Root-key authentication and permission checks.
//!
//! Every endpoint except liveness, metrics and the OpenAPI document takes a [`Caller`]: the
//! authenticated root key, the workspace it acts in, and where the request came from (for the
//! audit log). Service functions scope every lookup to `caller.workspace_id()` — data of another
//! workspace answers as if it did not exist — and then check permissions with the helpers here.

use std::collections::HashSet;
use std::sync::Arc;

use keyward_types::ErrorCode;

use crate::app::App;
use crate::cache::LoadError;
use crate::error::{ApiError, ApiResult};
use crate::key_material::KeyHash;
use crate::store;

/// A live root key, as cached for authentication.
#[derive(Debug)]
pub struct RootKeyRecord {
    pub id: String,
    pub workspace_id: String,
    pub name: Option<String>,
    pub permissions: HashSet<String>,
}

/// The authenticated caller of an endpoint.
#[derive(Debug, Clone)]
pub struct Caller {
    pub root_key: Arc<RootKeyRecord>,
    /// Kept raw: turned into strings only when a change is audited, not on every verification.
    pub remote_ip: Option<std::net::SocketAddr>,
    pub user_agent: Option<axum::http::HeaderValue>,
}

impl Caller {
    pub fn workspace_id(&self) -> &str {
        &self.root_key.workspace_id
    }

    pub fn has(&self, permission: &str) -> bool {
        self.root_key.permissions.contains(permission)
    }

    /// Whether the root key holds `permission` or the wildcard that includes it
    /// (`api.*.read_key` includes `api.api_1.read_key`). Used when delegating permissions.
    pub fn covers(&self, permission: &str) -> bool {
        if self.has(permission) {
            return true;
        }
        let mut parts = permission.splitn(3, '.');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(resource), Some(id), Some(action)) if id != "*" => {
                self.has(&format!("{resource}.*.{action}"))
            }
            _ => false,
        }
    }

    /// Requires one permission that applies to the whole workspace, e.g. `api.*.create_api`.
    pub fn require(&self, permission: &str) -> ApiResult<()> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(ApiError::missing_permission(&[permission.to_string()]))
        }
    }

    /// Whether the root key may `action` on API `api_id`: `api.*.<action>` or `api.<id>.<action>`.
    pub fn may_on_api(&self, api_id: &str, action: &str) -> bool {
        // The wildcard check needs no allocation; it is the common case on the verify path.
        let wildcard = match action {
            "verify_key" => self.has("api.*.verify_key"),
            _ => self.has(&format!("api.*.{action}")),
        };
        wildcard || self.has(&format!("api.{api_id}.{action}"))
    }

    /// Like [`Caller::may_on_api`], answering 403 with both accepted permissions.
    pub fn require_on_api(&self, api_id: &str, action: &str) -> ApiResult<()> {
        if self.may_on_api(api_id, action) {
            Ok(())
        } else {
            Err(ApiError::missing_permission(&[
                format!("api.*.{action}"),
                format!("api.{api_id}.{action}"),
            ]))
        }
    }
}

/// Authenticates the bearer token of a request.
pub async fn authenticate(app: &App, authorization: Option<&str>) -> ApiResult<Arc<RootKeyRecord>> {
    let Some(header) = authorization else {
        return Err(ApiError::new(
            ErrorCode::AuthenticationMissing,
            "Authorization header is missing. Send 'Authorization: Bearer <root key>'.",
        ));
    };
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer x` and `BEARER x` are `Bearer x`.
    let token = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace));
    let Some(token) = token else {
        return Err(ApiError::new(
            ErrorCode::AuthenticationMalformed,
            "Authorization header is malformed. Use the form 'Bearer <root key>'.",
        ));
    };
    let hash = KeyHash::of(token);
    let record = app
        .root_keys
        // The database handle is cloned only on a miss, when the load needs its own.
        .get_or_load(hash, || {
            let db = app.db.clone();
            async move { load_root_key(&db, hash).await }
        })
        .await
        .map_err(ApiError::internal)?;
    record.ok_or_else(|| {
        ApiError::new(
            ErrorCode::AuthenticationKeyNotFound,
            "The root key is unknown or has been deleted. Check the key you send, or create a new one.",
        )
    })
}

async fn load_root_key(
    db: &store::Db,
    hash: KeyHash,
) -> Result<Option<Arc<RootKeyRecord>>, LoadError> {
    let to_load_error = |e: sqlx::Error| LoadError(format!("loading a root key: {e}").into());
    let mut conn = db.reader().await.map_err(to_load_error)?;
    let row = store::root_keys::find_live_by_hash(&mut conn, hash.as_bytes())
        .await
        .map_err(to_load_error)?;
    row.map(|row| {
        let permissions: HashSet<String> = serde_json::from_str(&row.permissions).map_err(|e| {
            LoadError(format!("root key {} has unreadable permissions: {e}", row.id).into())
        })?;
        Ok(Arc::new(RootKeyRecord {
            id: row.id,
            workspace_id: row.workspace_id,
            name: row.name,
            permissions,
        }))
    })
    .transpose()
}
