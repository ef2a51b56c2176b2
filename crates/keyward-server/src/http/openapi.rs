//! The OpenAPI document as served at `GET /openapi.json`.
//!
//! utoipa generates it from the wire types (`keyward-types`, with every limit their `Validate`
//! enforces) and the `#[utoipa::path]` of each handler. This module adds what those cannot say,
//! so that the document describes exactly what the server accepts and answers
//! (`scripts/schemathesis.sh` checks it against a live server):
//!
//! - every error response also as `application/problem+json`, which keyward sends to clients
//!   whose `Accept` allows it (`*/*` included, as Unkey does);
//! - the errors any request with a body can get, whatever the operation: 408 (body too slow),
//!   413 (too large), 415 (not `application/json`);
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

const ERROR_ENVELOPE: &str = "#/components/schemas/ErrorEnvelope";

/// Completes the generated document; see the module docs.
pub fn complete(doc: &mut Value) {
    complete_responses(doc);
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
            json!(keyward_types::keys::MAX_META_PROPERTIES),
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
    set(
        schemas,
        &["CreateRootKeyRequest", "properties", "permissions", "items"],
        json!({"type": "string", "pattern": keyward_types::permissions::pattern()}),
    );
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

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": error_content(),
    })
}

fn error_content() -> Value {
    let schema = json!({"schema": {"$ref": ERROR_ENVELOPE}});
    json!({
        "application/json": schema,
        "application/problem+json": schema,
    })
}

fn complete_responses(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for operation in paths.values_mut().filter_map(Value::as_object_mut) {
        for operation in operation.values_mut() {
            let has_body = operation.get("requestBody").is_some();
            let Some(responses) = operation["responses"].as_object_mut() else {
                continue;
            };
            if has_body {
                for (status, description) in [
                    (
                        "408",
                        "The body did not arrive within the server's body timeout",
                    ),
                    ("413", "The body is larger than 2 MiB"),
                    ("415", "The body is not sent as application/json"),
                ] {
                    responses
                        .entry(status)
                        .or_insert_with(|| error_response(description));
                }
            }
            for response in responses.values_mut() {
                let is_error =
                    response["content"]["application/json"]["schema"]["$ref"] == ERROR_ENVELOPE;
                if is_error {
                    response["content"] = error_content();
                }
            }
            let mut sorted: Vec<(String, Value)> = std::mem::take(responses).into_iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            responses.extend(sorted);
        }
    }
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
                "else": {"required": ["value"]},
            })),
        ),
        (
            "VerifyRatelimit",
            object(json!({
                "not": {
                    "required": ["limit", "duration"],
                    "properties": {"limit": {"type": "integer"}, "duration": {"type": "integer"}},
                },
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
