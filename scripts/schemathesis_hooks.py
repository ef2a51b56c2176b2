"""Schemathesis hooks for keyward (scripts/schemathesis.sh loads them).

The rules of keyward's requests that JSON Schema cannot state, and that every request
schemathesis sends is kept within; the rest of the document is taken as it is:

- `auditLogs.listLogs` refuses `since` after `until` (400): the two are swapped;
- the `ratelimits` of keys and identities refuse a name given twice (400): JSON Schema's
  `uniqueItems` compares whole items, not one field, so a repeated name gets a numbered suffix;
- `keys.createKey` and the root keys' `createKey` / `createRootKey` refuse an `expires` that is
  not in the future (400): "later than now" is no static bound, so a past time is moved into the
  next day, staying within the schema's maximum.
"""

import time

import schemathesis

_MAX_TIMESTAMP_MS = 4_102_444_800_000


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@schemathesis.hook
def before_call(context, case, kwargs):
    body = case.body
    if (
        case.operation.path == "/v2/auditLogs.listLogs"
        and isinstance(body, dict)
        and _is_number(body.get("since"))
        and _is_number(body.get("until"))
        and body["since"] > body["until"]
    ):
        body["since"], body["until"] = body["until"], body["since"]
    if (
        case.operation.path
        in ("/v2/keys.createKey", "/v2/keys.updateKey", "/v2/identities.createIdentity",
            "/v2/identities.updateIdentity")
        and isinstance(body, dict)
        and isinstance(body.get("ratelimits"), list)
    ):
        seen = set()
        for i, limit in enumerate(body["ratelimits"]):
            if isinstance(limit, dict) and isinstance(limit.get("name"), str):
                name = limit["name"]
                if name in seen:
                    name = f"{name[:120]}_{i}"
                    limit["name"] = name
                seen.add(name)
    if (
        case.operation.path
        in ("/v2/keys.createKey", "/v2/rootKeys.createKey", "/v2/rootKeys.createRootKey")
        and isinstance(body, dict)
        and _is_number(body.get("expires"))
    ):
        now = int(time.time() * 1000)
        if now >= body["expires"] >= 0:
            body["expires"] = min(now + 60_000 + int(body["expires"]) % 86_400_000, _MAX_TIMESTAMP_MS)
