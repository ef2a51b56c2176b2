//! `workspaces.*` (keyward extension): isolated tenants of one keyward instance.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::root_keys::CreateRootKeyResponseData;
use crate::validate::{Validate, Violations};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWorkspaceRequest {
    #[schema(example = "acme", min_length = 1, max_length = 255)]
    pub name: String,
}

impl Validate for CreateWorkspaceRequest {
    fn validate(&self, v: &mut Violations) {
        v.length("name", &self.name, 1, 255);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateWorkspaceResponseData {
    pub workspace_id: String,
    /// A root key of the new workspace holding every workspace permission. Shown only now.
    pub root_key: CreateRootKeyResponseData,
}
