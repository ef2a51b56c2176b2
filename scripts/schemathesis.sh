#!/usr/bin/env bash
# Schemathesis against a live keyward: every operation of /openapi.json, with the bootstrap root
# key, checking that no request gets a 5xx, that every status code and response body is the one
# the document describes, and that the document's own examples are accepted; in its stateful
# phase it also chains operations along the document's links (create → read, verify, delete).
# Before that, openapi-spec-validator checks that the document is valid OpenAPI 3.1.
#
#   scripts/schemathesis.sh                    # 100 examples per operation
#   SCHEMATHESIS_MAX_EXAMPLES=20 scripts/schemathesis.sh
#
# Needs python3 (with venv) and cargo. Installs the pinned schemathesis into a virtualenv under
# ~/.cache/keyward (SCHEMATHESIS_VENV overrides), builds keyward, starts it on a free loopback
# port over a temporary data directory, and stops it at the end. Extra arguments go to `st run`.
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-100}
venv=${SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/keyward/schemathesis-$version}

if [ ! -x "$venv/bin/st" ]; then
  echo "== installing schemathesis $version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi
validator_version=0.9.0
if [ ! -x "$venv/bin/openapi-spec-validator" ] || ! "$venv/bin/pip" show openapi-spec-validator 2>/dev/null | grep -q "^Version: $validator_version$"; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check "openapi-spec-validator==$validator_version"
fi

echo "== building keyward"
cargo build --quiet --locked -p keyward
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

data_dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
root_key=schemathesis_bootstrap_root_key_0123456789
KEYWARD_BOOTSTRAP_ROOT_KEY=$root_key RUST_LOG=warn \
  "$target_dir/debug/keyward" serve --listen "127.0.0.1:$port" --data-dir "$data_dir" \
  >"$data_dir/keyward.log" 2>&1 &
keyward_pid=$!
stop() {
  kill "$keyward_pid" 2>/dev/null || true
  wait "$keyward_pid" 2>/dev/null || true
  rm -rf "$data_dir"
}
trap stop EXIT

url="http://127.0.0.1:$port"
for _ in $(seq 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('$url/v2/liveness', timeout=1)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$keyward_pid" 2>/dev/null; then
    cat "$data_dir/keyward.log" >&2
    echo "keyward did not start" >&2
    exit 1
  fi
  sleep 0.1
done

# The document itself is valid OpenAPI 3.1 (its schemas valid JSON Schema 2020-12, its links
# naming operations that exist).
python3 -c "import urllib.request; open('$data_dir/openapi.json', 'wb').write(urllib.request.urlopen('$url/openapi.json').read())"
echo "== openapi-spec-validator $validator_version on $url/openapi.json"
"$venv/bin/python" - "$data_dir/openapi.json" <<'PY'
import json, sys
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator
doc = json.load(open(sys.argv[1]))
assert doc["openapi"].startswith("3.1"), doc["openapi"]
validate(doc, cls=OpenAPIV31SpecValidator)
operations = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
links = [(source, name, link["operationId"])
         for path in doc["paths"].values() for source in path.values()
         for response in source["responses"].values() for name, link in response.get("links", {}).items()]
unknown = [l for l in links if l[2] not in operations]
assert not unknown, unknown
print(f"   valid OpenAPI {doc['openapi']}: {len(doc['paths'])} paths, {len(operations)} operations, {len(links)} links")
PY

# Real ids and keys, so that generated requests also reach past "not found": APIs, keys with and
# without credits, root keys, offered as values for apiId, keyId and key (half of the time).
config="$data_dir/schemathesis.toml"
cp scripts/schemathesis.toml "$config"
python3 - "$url" "$root_key" >>"$config" <<'PY'
import json, sys, urllib.request

url, root_key = sys.argv[1:]

def call(operation, body):
    request = urllib.request.Request(
        f"{url}/v2/{operation}", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {root_key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)["data"]

dictionaries = {name: [] for name in
                ["api_ids", "key_ids", "keys", "doomed_api_ids", "doomed_key_ids", "rerolled_key_ids",
                 "doomed_root_key_ids", "permissions", "doomed_permissions", "roles",
                 "doomed_roles", "identities", "doomed_identities"]}
for permissions in [["api.*.verify_key"], ["api.*.read_key", "api.*.read_api"], ["auditlog.*.read_audit_log"]]:
    created = call("rootKeys.createRootKey", {"name": "schemathesis", "permissions": permissions})
    dictionaries["doomed_root_key_ids"].append(created["keyId"])
for name, api_list, key_list in [("schemathesis-a", "api_ids", "key_ids"),
                                 ("schemathesis-b", "api_ids", "key_ids"),
                                 ("schemathesis-doomed", "doomed_api_ids", "doomed_key_ids")]:
    api_id = call("apis.createApi", {"name": name})["apiId"]
    dictionaries[api_list].append(api_id)
    for extra in [{}, {"prefix": "sk", "externalId": "user_1", "meta": {"plan": "pro"}},
                  {"credits": {"remaining": 1000}},
                  {"credits": {"remaining": 50, "refill": {"interval": "monthly", "amount": 50, "refillDay": 3}}},
                  {"expires": 4102444799000, "name": "expiring"}]:
        created = call("keys.createKey", {"apiId": api_id, **extra})
        dictionaries[key_list].append(created["keyId"])
        dictionaries["keys"].append(created["key"])
for i in range(3):
    for kind in ["", "doomed_"]:
        slug = f"schemathesis.{kind}permission.{i}"
        created = call("permissions.createPermission", {"name": slug, "slug": slug})
        dictionaries[f"{kind}permissions"] += [slug, created["permissionId"]]
        role = f"schemathesis-{kind}role-{i}"
        created = call("permissions.createRole", {"name": role, "permissions": [slug]})
        dictionaries[f"{kind}roles"] += [role, created["roleId"]]
        external_id = f"schemathesis_{kind}identity_{i}"
        created = call("identities.createIdentity", {"externalId": external_id})
        dictionaries[f"{kind}identities"] += [external_id, created["identityId"]]
# keys.rerollKey with expiration 0 revokes the key it is given: it gets many of its own.
rerolled_api_id = call("apis.createApi", {"name": "schemathesis-rerolled"})["apiId"]
for _ in range(40):
    created = call("keys.createKey", {"apiId": rerolled_api_id, "credits": {"remaining": 100}})
    dictionaries["rerolled_key_ids"].append(created["keyId"])
for name, values in dictionaries.items():
    print(f"\n[dictionaries.{name}]\nvalues = {json.dumps(values)}")
PY

echo "== schemathesis $version against $url/openapi.json, $max_examples examples per operation"
status=0
# From the temporary directory, where schemathesis and hypothesis leave their caches.
scripts_dir="$PWD/scripts"
(cd "$data_dir" && SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$scripts_dir" \
  "$venv/bin/st" --config-file "$config" run "$url/openapi.json" \
  --header "Authorization: Bearer $root_key" \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$max_examples" \
  --seed 1 \
  --generation-database none \
  --no-color \
  "$@") || status=$?
if grep -q "ERROR\|panicked" "$data_dir/keyward.log"; then
  echo "== keyward logged errors:" >&2
  grep "ERROR\|panicked" "$data_dir/keyward.log" >&2
  status=1
fi
exit "$status"
