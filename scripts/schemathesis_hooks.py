"""Schemathesis hooks for keyward (scripts/schemathesis.sh loads them).

The one rule of keyward's requests that JSON Schema cannot state: `auditLogs.listLogs` refuses
`since` after `until` (400). Every request schemathesis sends keeps within it (the two are
swapped); the rest of the document is taken as it is.
"""

import schemathesis


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
