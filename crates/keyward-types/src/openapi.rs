//! The OpenAPI 3.1 document of everything keyward serves, generated from the operation registry
//! ([`crate::operations`]) and the wire types' schemas: the one description of the API, served at
//! `GET /openapi.json`. It must describe exactly what the server accepts and answers
//! (`scripts/schemathesis.sh` checks it against a live server), so [`document_json`] adds what
//! the types' derived schemas cannot say:
//!
//! - the rules between fields that a field's own schema cannot state (`refillDay` only with a
//!   monthly refill, a refill only for limited credits, …), as JSON Schema `if`/`then` and
//!   `anyOf`;
//! - the patterns built from code: the permission catalog, the permission query grammar;
//! - the limits utoipa takes on types only (`maxProperties` of `meta`), and the one value of
//!   `decrypt` and `recoverable` keyward accepts (`false`: it never stores plaintext).
//!
//! One rule is beyond JSON Schema: `auditLogs.listLogs` refuses `since` after `until` (400); the
//! schemathesis hooks (`scripts/schemathesis_hooks.py`) keep generated requests within it.

use serde_json::{Map, Value, json};
use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr,
    Required, ResponseBuilder,
    schema::{ArrayBuilder, ObjectBuilder, Schema},
};
use utoipa::{PartialSchema, ToSchema};

use crate::operations::{self, COMMON_ERRORS, Endpoint, Method, Operation, Shape, Visit};
use crate::{Envelope, ErrorEnvelope, Meta, Pagination};

/// Content types of error responses: `application/problem+json` for clients that accept it
/// (`Accept: */*`, `application/*`, or naming it), `application/json` otherwise.
pub const ERROR_CONTENT_TYPES: [&str; 2] = ["application/json", "application/problem+json"];

/// The groups, in documentation order, with their descriptions.
const TAGS: &[(&str, &str)] = &[
    ("apis", "API namespaces, the containers of keys"),
    ("keys", "Issuing, verifying and revoking keys"),
    (
        "rootKeys",
        "Keys that authorize calls to this API (keyward extension)",
    ),
    ("workspaces", "Isolated tenants (keyward extension)"),
    ("auditLogs", "Who changed what (keyward extension)"),
    ("liveness", "Whether the server is up"),
];

/// The document as served: [`document`], completed (see the module docs).
pub fn document_json() -> Value {
    let mut doc = serde_json::to_value(document()).expect("an OpenAPI document serializes");
    complete(&mut doc);
    doc
}

/// Builds the document from the registry and the types' schemas.
pub fn document() -> OpenApi {
    let mut builder = Builder {
        paths: Paths::new(),
        schemas: Vec::new(),
    };
    operations::for_each(&mut builder);
    builder.add_liveness();

    let mut components = ComponentsBuilder::new().security_scheme(
        "rootKey",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("A root key: `Authorization: Bearer <root key>`"))
                .build(),
        ),
    );
    builder
        .schemas
        .push((ErrorEnvelope::name().into(), ErrorEnvelope::schema()));
    ErrorEnvelope::schemas(&mut builder.schemas);
    builder.schemas.push((Meta::name().into(), Meta::schema()));
    builder
        .schemas
        .push((Pagination::name().into(), Pagination::schema()));
    builder.schemas.sort_by(|a, b| a.0.cmp(&b.0));
    builder.schemas.dedup_by(|a, b| a.0 == b.0);
    for (name, schema) in builder.schemas {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("keyward")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Self-hosted API key management, wire-compatible with Unkey's v2 API. Every \
                     operation is `POST /v2/<group>.<operation>` with a JSON body and a root key \
                     as `Authorization: Bearer <root key>`.",
                ))
                .build(),
        )
        .paths(builder.paths)
        .components(Some(components.build()))
        .tags(Some(TAGS.iter().map(|(name, description)| {
            TagBuilder::new()
                .name(*name)
                .description(Some(*description))
                .build()
        })))
        .build()
}

struct Builder {
    paths: Paths,
    schemas: Vec<(String, RefOr<Schema>)>,
}

impl Visit for Builder {
    fn visit<E: Endpoint>(&mut self) {
        let op = E::OPERATION;
        let request_name = E::Request::name().to_string();
        self.schemas
            .push((request_name.clone(), E::Request::schema()));
        E::Request::schemas(&mut self.schemas);
        let (envelope_name, envelope_schema) = match op.shape {
            Shape::Object => (
                format!("Envelope_{}", E::Data::name()),
                Envelope::<E::Data>::schema(),
            ),
            Shape::Page => (
                format!("Envelope_Vec_{}", E::Data::name()),
                page_schema(&E::Data::name()),
            ),
            Shape::List => (
                format!("Envelope_List_{}", E::Data::name()),
                list_schema(&E::Data::name()),
            ),
        };
        self.schemas
            .push((E::Data::name().into(), E::Data::schema()));
        E::Data::schemas(&mut self.schemas);
        Envelope::<E::Data>::schemas(&mut self.schemas);
        self.schemas.push((envelope_name.clone(), envelope_schema));

        let body = RequestBodyBuilder::new()
            .required(Some(Required::True))
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(request_name)))
                    .build(),
            )
            .build();
        let operation = described(op)
            .request_body(Some(body))
            .security(SecurityRequirement::new::<_, _, String>("rootKey", []))
            .response("200", success(&envelope_name));
        let operation = error_statuses(op)
            .into_iter()
            .fold(operation, |operation, status| {
                operation.response(status.to_string(), error(status))
            });
        self.paths
            .add_path_operation(op.path, vec![http_method(op)], operation.build());
    }
}

impl Builder {
    fn add_liveness(&mut self) {
        let op = operations::LIVENESS;
        let name = format!("Envelope_{}", operations::LivenessData::name());
        self.schemas
            .push((name.clone(), Envelope::<operations::LivenessData>::schema()));
        Envelope::<operations::LivenessData>::schemas(&mut self.schemas);
        self.schemas.push((
            operations::LivenessData::name().into(),
            operations::LivenessData::schema(),
        ));
        let operation = described(op).response("200", success(&name));
        self.paths
            .add_path_operation(op.path, vec![http_method(op)], operation.build());
    }
}

/// `{meta, data: [item], pagination}`: a page's envelope, whose pagination is always present.
fn page_schema(item: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .description(Some(
            "A page of a list: `{ meta, data: [...], pagination }`.",
        ))
        .property("meta", Ref::from_schema_name(Meta::name()))
        .property(
            "data",
            ArrayBuilder::new().items(Ref::from_schema_name(item)),
        )
        .property("pagination", Ref::from_schema_name(Pagination::name()))
        .required("meta")
        .required("data")
        .required("pagination")
        .into()
}

/// `{meta, data: [item]}`: a whole list.
fn list_schema(item: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .description(Some("A whole list: `{ meta, data: [...] }`."))
        .property("meta", Ref::from_schema_name(Meta::name()))
        .property(
            "data",
            ArrayBuilder::new().items(Ref::from_schema_name(item)),
        )
        .required("meta")
        .required("data")
        .into()
}

fn http_method(op: &Operation) -> HttpMethod {
    match op.method {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
    }
}

fn described(op: &Operation) -> OperationBuilder {
    OperationBuilder::new()
        .operation_id(Some(op.name))
        .tag(op.group)
        .summary(Some(op.summary))
        .description(Some(op.description))
}

/// Every error status `op` can answer, ascending.
pub fn error_statuses(op: &Operation) -> Vec<u16> {
    let mut statuses: Vec<u16> = COMMON_ERRORS.iter().chain(op.errors).copied().collect();
    statuses.sort_unstable();
    statuses
}

fn success(envelope: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description("Success")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(envelope)))
                .build(),
        )
        .build()
}

fn error(status: u16) -> utoipa::openapi::Response {
    let description = match status {
        400 => "Invalid request: the detail and `errors` name each problem",
        408 => "The body did not arrive within the server's body timeout",
        401 => "Unknown root key",
        403 => "Missing permission",
        404 => "Not found in this workspace",
        409 => "Conflicts with an existing resource",
        412 => "Precondition failed",
        413 => "The body is larger than 2 MiB",
        415 => "The body is not sent as application/json",
        500 => "Internal error; the log has the cause under the request id",
        503 => "The database cannot serve now; retry after `Retry-After` seconds",
        _ => "Error",
    };
    ERROR_CONTENT_TYPES
        .iter()
        .fold(
            ResponseBuilder::new().description(description),
            |response, content_type| {
                response.content(
                    *content_type,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(ErrorEnvelope::name())))
                        .build(),
                )
            },
        )
        .build()
}

/// Completes the generated document; see the module docs.
fn complete(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    for (name, rule) in cross_field_rules() {
        let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) else {
            panic!("the OpenAPI document has no schema {name}");
        };
        schema.extend(rule);
    }
    // keyward never stores plaintext: asking for it back is refused (412), so only `false` is
    // offered (docs/API.md).
    for (request, field) in [
        ("CreateKeyRequest", "recoverable"),
        ("GetKeyRequest", "decrypt"),
        ("ListKeysRequest", "decrypt"),
    ] {
        set(
            schemas,
            &[request, "properties", field, "enum"],
            json!([false, null]),
        );
    }
    // utoipa takes `maxProperties` on types only, not on a field.
    for request in ["CreateKeyRequest", "UpdateKeyRequest"] {
        set(
            schemas,
            &[request, "properties", "meta", "maxProperties"],
            json!(crate::keys::MAX_META_PROPERTIES),
        );
    }
    set(
        schemas,
        &["VerifyKeyRequest", "properties", "tags", "items"],
        json!({"type": "string", "minLength": 1, "maxLength": 512}),
    );
    set(
        schemas,
        &["VerifyKeyRequest", "properties", "permissions", "pattern"],
        Value::String(permission_query_pattern()),
    );
    for request in ["CreateRootKeyRequest", "UpdateRootKeyRequest"] {
        set(
            schemas,
            &[request, "properties", "permissions", "items"],
            json!({
                "type": "string",
                "maxLength": crate::permissions::MAX_PERMISSION_LEN,
                "pattern": crate::permissions::pattern(),
            }),
        );
    }
    let slug = json!({
        "type": "string",
        "minLength": 1,
        "maxLength": crate::rbac::MAX_SLUG_LEN,
        "pattern": crate::rbac::SLUG_PATTERN,
    });
    for request in [
        "CreateKeyRequest",
        "UpdateKeyRequest",
        "CreateRoleRequest",
        "SetRolePermissionsRequest",
        "AddPermissionsRequest",
        "RemovePermissionsRequest",
        "SetPermissionsRequest",
    ] {
        set(
            schemas,
            &[request, "properties", "permissions", "items"],
            slug.clone(),
        );
    }
    for request in [
        "CreateKeyRequest",
        "UpdateKeyRequest",
        "AddRolesRequest",
        "RemoveRolesRequest",
        "SetRolesRequest",
    ] {
        set(
            schemas,
            &[request, "properties", "roles", "items"],
            json!({"type": "string", "minLength": 1, "maxLength": 128}),
        );
    }
    set(
        schemas,
        &["VerifyKeyRequest", "properties", "keyspaces", "items"],
        json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9_]+$"}),
    );
    for request in ["CreateIdentityRequest", "UpdateIdentityRequest"] {
        set(
            schemas,
            &[request, "properties", "meta", "maxProperties"],
            json!(crate::keys::MAX_META_PROPERTIES),
        );
    }
    // Required but nullable: serde reads an absent field as "absent", which the validation
    // refuses; the schema says it must be sent.
    for request in ["RerollKeyRequest", "RerollRootKeyRequest"] {
        set(
            schemas,
            &[request, "required"],
            json!(["keyId", "expiration"]),
        );
    }
    // verifyKey's `ratelimits`: each number is bounded, and an ad-hoc limit (both `limit` and
    // `duration` given) has a window bounded as a stored limit's is (`VerifyKeyRequest::validate`).
    let max = crate::keys::MAX_RATELIMIT_COST;
    for field in ["cost", "limit", "duration"] {
        set(
            schemas,
            &["VerifyRatelimit", "properties", field, "maximum"],
            json!(max),
        );
    }
    let schema = &mut schemas["VerifyRatelimit"];
    schema["if"] = json!({"required": ["limit", "duration"]});
    schema["then"] = json!({"properties": {"duration": {
        "minimum": 1000,
        "maximum": crate::keys::MAX_RATELIMIT_DURATION,
    }}});
    add_links(doc);
}

/// OpenAPI links: which field of a 200 answer is what another operation's request names. For
/// people reading the document, and for schemathesis's stateful phase (scripts/schemathesis.sh),
/// which follows them to chain a create into the operations on what it created. Only targets
/// whose request needs nothing but that field are linked (a link's body is the whole request).
const LINKS: &[(&str, &str, &str, &[&str])] = &[
    (
        "apis.createApi",
        "apiId",
        "apiId",
        &[
            "apis.getApi",
            "apis.listKeys",
            "keys.createKey",
            "apis.deleteApi",
        ],
    ),
    (
        "keys.createKey",
        "keyId",
        "keyId",
        &["keys.getKey", "keys.deleteKey"],
    ),
    (
        "keys.createKey",
        "key",
        "key",
        &["keys.verifyKey", "keys.whoami"],
    ),
    (
        "keys.rerollKey",
        "key",
        "key",
        &["keys.verifyKey", "keys.whoami"],
    ),
    (
        "rootKeys.createKey",
        "keyId",
        "keyId",
        &["rootKeys.deleteKey"],
    ),
    (
        "permissions.createPermission",
        "permissionId",
        "permission",
        &["permissions.getPermission", "permissions.deletePermission"],
    ),
    (
        "permissions.createRole",
        "roleId",
        "role",
        &["permissions.getRole", "permissions.deleteRole"],
    ),
    (
        "identities.createIdentity",
        "identityId",
        "identity",
        &["identities.getIdentity", "identities.deleteIdentity"],
    ),
];

fn add_links(doc: &mut Value) {
    for (source, field, target_field, targets) in LINKS {
        let response = &mut doc["paths"][format!("/v2/{source}")]["post"]["responses"]["200"];
        assert!(
            response.is_object(),
            "a link from unknown operation {source}"
        );
        for target in *targets {
            assert!(
                crate::operations::find(target).is_some(),
                "a link to unknown operation {target}"
            );
            let name = format!("{}_{field}", target.replace('.', "_"));
            response["links"][name] = json!({
                "operationId": target,
                "requestBody": {*target_field: format!("$response.body#/data/{field}")},
                "description": format!("`data.{field}` of this answer is `{target_field}` of {target}."),
            });
        }
    }
}

/// Sets `value` at `path`, which must exist up to its last step.
fn set(root: &mut Value, path: &[&str], value: Value) {
    let (last, parents) = path.split_last().expect("a path");
    let mut node = root;
    for step in parents {
        node = node
            .get_mut(*step)
            .unwrap_or_else(|| panic!("the OpenAPI document has no {path:?}"));
    }
    node[*last] = value;
}

/// Rules between fields of one schema, as the keywords to add to it. Each mirrors a check of
/// the type's `Validate` in `keyward-types`.
fn cross_field_rules() -> Vec<(&'static str, Map<String, Value>)> {
    let object = |value: Value| match value {
        Value::Object(map) => map,
        _ => unreachable!("a rule is an object"),
    };
    vec![
        (
            "UpdateApiRequest",
            object(json!({
                "anyOf": [
                    {"required": ["name"], "properties": {"name": {"type": "string"}}},
                    {"required": ["deleteProtection"], "properties": {"deleteProtection": {"type": "boolean"}}},
                ],
            })),
        ),
        (
            "KeyCredits",
            object(json!({
                "if": {"required": ["refill"], "properties": {"refill": {"type": "object"}}},
                "then": {"required": ["remaining"], "properties": {"remaining": {"type": "integer"}}},
            })),
        ),
        (
            "CreditsRefill",
            object(json!({
                "if": {"properties": {"interval": {"const": "daily"}}},
                "then": {"properties": {"refillDay": {"type": "null"}}},
            })),
        ),
        (
            "UpdateCredits",
            object(json!({
                "if": {"required": ["refill"], "properties": {"refill": {"type": "object"}}},
                "then": {"properties": {"remaining": {"type": "integer"}}},
            })),
        ),
        (
            "UpdateCreditsRequest",
            object(json!({
                "if": {"properties": {"operation": {"enum": ["increment", "decrement"]}}},
                "then": {"required": ["value"], "properties": {"value": {"type": "integer"}}},
            })),
        ),
        (
            "SetRolePermissionsRequest",
            // Exactly one of the two names a role (`null` names none).
            object(json!({
                "oneOf": [
                    {
                        "required": ["role"],
                        "properties": {"role": {"type": "string"}},
                        "not": {"required": ["roleId"], "properties": {"roleId": {"type": "string"}}},
                    },
                    {
                        "required": ["roleId"],
                        "properties": {"roleId": {"type": "string"}},
                        "not": {"required": ["role"], "properties": {"role": {"type": "string"}}},
                    },
                ],
            })),
        ),
    ]
}

/// The queries of `keys.verifyKey`'s `permissions` (see `permission_query.rs`) up to two levels
/// of parentheses, with names that contain a dot (as permission names do, and which keeps a name
/// from reading as `AND`/`OR`) and single spaces around the operators. The server also accepts
/// deeper nesting, other names and any whitespace: the pattern says what a client can rely on.
fn permission_query_pattern() -> String {
    let name = r"[A-Za-z0-9_*:/-]+(?:\.[A-Za-z0-9_*:/-]+)+";
    let op = " (?:AND|OR) ";
    let mut expression = format!("{name}(?:{op}{name})*");
    for _ in 0..2 {
        let term = format!(r"(?:{name}|\({expression}\))");
        expression = format!("{term}(?:{op}{term})*");
    }
    format!("^{expression}$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_operation_is_documented() {
        let doc = document();
        for op in operations::ALL.iter().chain([&operations::LIVENESS]) {
            let item = doc
                .paths
                .paths
                .get(op.path)
                .unwrap_or_else(|| panic!("{} is not in the document", op.path));
            let operation = match op.method {
                Method::Post => item.post.as_ref(),
                Method::Get => item.get.as_ref(),
            }
            .unwrap_or_else(|| panic!("{} has no {:?} operation", op.path, op.method));
            assert_eq!(operation.operation_id.as_deref(), Some(op.name));
        }
        assert_eq!(doc.paths.paths.len(), operations::ALL.len() + 1);
        let json = serde_json::to_value(&doc).unwrap();
        let schemas = json["components"]["schemas"].as_object().unwrap();
        // Every reference resolves.
        let text = json.to_string();
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "dangling reference to {name}");
        }
    }
}
