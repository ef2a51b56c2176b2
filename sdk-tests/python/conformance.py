"""Unkey's Python SDK (unkey-py 3.2.2, unchanged) against a live keyward.

Run by crates/keyward-http/tests/sdk_conformance_python.rs with KEYWARD_URL and
KEYWARD_ROOT_KEY (the bootstrap root key) set. Exercises rootKeys, permissions, identities,
verifyKey, the standalone rate limiter and the limits of keys and identities through the SDK's
own models: every response must parse, every error must arrive as
the SDK's typed exception (or, where the SDK declares no type for it, as an UnkeyError with the
status). Fails on the first mismatch, naming it.
"""

import os
import sys
import time

from unkey.py import Unkey, errors

URL = os.environ["KEYWARD_URL"]
ROOT_KEY = os.environ["KEYWARD_ROOT_KEY"]
CHECKS = 0


def check(condition, what):
    global CHECKS
    CHECKS += 1
    if not condition:
        raise AssertionError(what)


def raises(kind, call, status=None):
    """Runs `call`, which must raise `kind` (with HTTP `status`); returns the exception."""
    try:
        call()
    except kind as e:
        if status is not None:
            check(e.status_code == status, f"expected status {status}, got {e.status_code}: {e.body}")
        return e
    raise AssertionError(f"expected {kind.__name__}")


def client(root_key=ROOT_KEY):
    # No retries: a 5xx must fail the test, not be retried for ten seconds.
    return Unkey(root_key=root_key, server_url=URL, retry_config=None, timeout_ms=10_000)


def all_pages(first):
    """Every item of a paginated listing, following the SDK's own `next()`."""
    items, page, pages = [], first, 0
    while page is not None:
        pages += 1
        check(pages < 100, "pagination ends")
        items.extend(page.result.data)
        page = page.next()
    return items


def workspace_id(unkey):
    keys = unkey.root_keys.list_keys().result.data
    for permission in keys[0].permissions:
        if permission.startswith("unkey:v1:"):
            return permission.split(":")[2]
    raise AssertionError("the bootstrap key holds the workspace's URN")


def root_keys(unkey, ws):
    created = unkey.root_keys.create_key(
        name="sdk", permissions=["api.*.create_api", "api.*.read_api", f"unkey:v1:{ws}:keyspaces/*/keys/*#verify_key"]
    )
    key_id, key = created.data.key_id, created.data.key
    check(key.startswith("kwroot_"), "a root key")
    listed = {k.key_id: k for k in all_pages(unkey.root_keys.list_keys(limit=1))}
    entry = listed[key_id]
    check(entry.name == "sdk" and entry.enabled and entry.expires is None, "listed as created")
    check(entry.last_used_at == 0 and entry.end == "", "never used, no recorded suffix")
    check(key not in str(listed), "never the secret")

    with client(key) as limited:
        api_id = limited.apis.create_api(name="by-sdk-root-key").data.api_id
        # It may grant only what it holds: the SDK declares 403 for createKey.
        raises(errors.ForbiddenErrorResponse, lambda: limited.root_keys.create_key(permissions=["api.*.read_api"]))

    unkey.root_keys.update_key(key_id=key_id, name=None, enabled=False)
    with client(key) as limited:
        e = raises(errors.ForbiddenErrorResponse, lambda: limited.apis.get_api(api_id=api_id))
        check(e.data.error.type.endswith("/key_disabled"), e.data.error.type)
    unkey.root_keys.update_key(key_id=key_id, enabled=True, permissions=["api.*.read_api"])

    rerolled = unkey.root_keys.reroll_key(key_id=key_id, expiration=None)
    with client(rerolled.data.key) as new, client(key) as old:
        new.apis.get_api(api_id=api_id)
        old.apis.get_api(api_id=api_id)
    unkey.root_keys.reroll_key(key_id=key_id, expiration=0)
    with client(key) as old:
        raises(errors.ForbiddenErrorResponse, lambda: old.apis.get_api(api_id=api_id))

    unkey.root_keys.delete_key(key_id=rerolled.data.key_id)
    raises(errors.NotFoundErrorResponse, lambda: unkey.root_keys.delete_key(key_id=rerolled.data.key_id))
    with client(rerolled.data.key) as gone:
        raises(errors.UnauthorizedErrorResponse, lambda: gone.apis.get_api(api_id=api_id))
    expires = int(time.time() * 1000) + 3_600_000
    expiring = unkey.root_keys.create_key(permissions=["api.*.read_api"], expires=expires)
    listed = {k.key_id: k for k in all_pages(unkey.root_keys.list_keys())}
    check(listed[expiring.data.key_id].expires == expires, "expires as given")
    return api_id


def permissions(unkey):
    created = unkey.permissions.create_permission(name="Read documents", slug="documents.read", description="d")
    permission_id = created.data.permission_id
    check(permission_id.startswith("perm_"), "a permission id")
    got = unkey.permissions.get_permission(permission=permission_id)
    check(got.data.slug == "documents.read" and got.data.description == "d", "read back")
    raises(errors.ConflictErrorResponse, lambda: unkey.permissions.create_permission(name="x", slug="DOCUMENTS.READ"))
    for slug in ["comments.read", "comments.write", "admin.all"]:
        unkey.permissions.create_permission(name=slug, slug=slug)
    listed = all_pages(unkey.permissions.list_permissions(limit=2))
    check(sorted(p.slug for p in listed) == ["admin.all", "comments.read", "comments.write", "documents.read"], listed)
    found = all_pages(unkey.permissions.list_permissions(search="comments"))
    check(len(found) == 2, found)
    updated = unkey.permissions.update_permission(permission="admin.all", slug="admin.everything", description=None)
    check(updated.data.slug == "admin.everything" and updated.data.description is None, updated)
    raises(errors.NotFoundErrorResponse, lambda: unkey.permissions.get_permission(permission="nope.none"))

    role = unkey.permissions.create_role(name="reader", description="reads", permissions=["documents.read", "comments.read"])
    role_id = role.data.role_id
    got = unkey.permissions.get_role(role="reader")
    check(got.data.id == role_id and sorted(p.slug for p in got.data.permissions) == ["comments.read", "documents.read"], got)
    raises(errors.ConflictErrorResponse, lambda: unkey.permissions.create_role(name="reader"))
    unkey.permissions.create_role(name="writer", permissions=["comments.write"])
    roles = all_pages(unkey.permissions.list_roles(limit=1))
    check(sorted(r.name for r in roles) == ["reader", "writer"], roles)
    renamed = unkey.permissions.update_role(role=role_id, name="readers", description=None)
    check(renamed.data.name == "readers" and renamed.data.description is None, renamed)
    set_ = unkey.permissions.set_role_permissions(request={"role": "readers", "permissions": ["documents.read", "docs.extra"]})
    check(sorted(p.slug for p in set_.data) == ["docs.extra", "documents.read"], set_)
    set_ = unkey.permissions.set_role_permissions(request={"role_id": role_id, "permissions": ["documents.read", "comments.read"]})
    check(len(set_.data) == 2, set_)
    return role_id


def keys(unkey, api_id, ws):
    created = unkey.keys.create_key(api_id=api_id, prefix="sdk", roles=["readers"], permissions=["keys.direct"])
    key_id, key = created.data.key_id, created.data.key
    v = unkey.keys.verify_key(key=key, permissions="documents.read AND (comments.read OR admin.everything)")
    check(v.data.valid and v.data.code == "VALID", v)
    check(v.data.keyspace_id == api_id, v)
    check(v.data.permissions == ["comments.read", "documents.read", "keys.direct"], v.data.permissions)
    check(v.data.roles == ["readers"], v.data.roles)
    v = unkey.keys.verify_key(key=key, permissions="admin.everything")
    check(not v.data.valid and v.data.code == "INSUFFICIENT_PERMISSIONS", v)
    e = raises(errors.BadRequestErrorResponse, lambda: unkey.keys.verify_key(key=key, permissions="a AND (b"))
    check(e.data.error.type.endswith("/permissions_query_syntax_error") and "position" in e.data.error.detail, e.data.error)

    # keyspaces: another keyspace's key is NOT_FOUND and spends nothing.
    other = unkey.apis.create_api(name="other-keyspace").data.api_id
    v = unkey.keys.verify_key(key=key, keyspaces=[other])
    check(v.data.code == "NOT_FOUND" and v.data.keyspace_id is None, v)
    v = unkey.keys.verify_key(key=key, keyspaces=[other, api_id])
    check(v.data.code == "VALID", v)

    added = unkey.keys.add_permissions(key_id=key_id, permissions=["admin.everything"])
    check(sorted(p.slug for p in added.data) == ["admin.everything", "keys.direct"], added)
    check(unkey.keys.verify_key(key=key, permissions="admin.everything").data.valid, "granted at once")
    left = unkey.keys.remove_permissions(key_id=key_id, permissions=["admin.everything"])
    check([p.slug for p in left.data] == ["keys.direct"], left)
    check(not unkey.keys.verify_key(key=key, permissions="admin.everything").data.valid, "revoked at once")
    unkey.keys.set_permissions(key_id=key_id, permissions=[])
    roles = unkey.keys.add_roles(key_id=key_id, roles=["writer"])
    check(sorted(r.name for r in roles.data) == ["readers", "writer"], roles)
    check(unkey.keys.verify_key(key=key, permissions="comments.write").data.valid, "role granted at once")
    unkey.keys.remove_roles(key_id=key_id, roles=["writer"])
    unkey.keys.set_roles(key_id=key_id, roles=["readers"])
    raises(errors.NotFoundErrorResponse, lambda: unkey.keys.add_roles(key_id=key_id, roles=["ghost"]))

    got = unkey.keys.get_key(key_id=key_id)
    check(got.data.roles == ["readers"] and "documents.read" in got.data.permissions, got)
    listed = all_pages(unkey.apis.list_keys(api_id=api_id))
    check(listed[0].roles == ["readers"], listed)
    whoami = unkey.keys.whoami(key=key)
    check(whoami.data.key_id == key_id and whoami.data.roles == ["readers"], whoami)

    # Deleting a permission or a role revokes at once.
    unkey.permissions.delete_permission(permission="comments.read")
    v = unkey.keys.verify_key(key=key, permissions="comments.read")
    check(v.data.code == "INSUFFICIENT_PERMISSIONS", v)
    unkey.permissions.delete_role(role="readers")
    v = unkey.keys.verify_key(key=key, permissions="documents.read")
    check(v.data.code == "INSUFFICIENT_PERMISSIONS" and v.data.roles is None, v)
    # deleteRole declares no 404: it arrives as an UnkeyError with the status.
    raises(errors.UnkeyError, lambda: unkey.permissions.delete_role(role="readers"), status=404)

    # A URN grant verifies exactly the keys it names.
    verifier = unkey.root_keys.create_key(permissions=[f"unkey:v1:{ws}:keyspaces/{api_id}/keys/{key_id}#verify_key"])
    with client(verifier.data.key) as scoped:
        check(scoped.keys.verify_key(key=key).data.valid, "the URN grant verifies its key")
        other_key = unkey.keys.create_key(api_id=api_id).data.key
        check(scoped.keys.verify_key(key=other_key).data.code == "NOT_FOUND", "and no other")
    return key


def identities(unkey, api_id):
    created = unkey.identities.create_identity(external_id="customer_1", meta={"plan": "pro"})
    identity_id = created.data.identity_id
    raises(errors.ConflictErrorResponse, lambda: unkey.identities.create_identity(external_id="customer_1"))
    got = unkey.identities.get_identity(identity="customer_1")
    check(got.data.id == identity_id and got.data.meta == {"plan": "pro"}, got)
    for i in range(3):
        unkey.identities.create_identity(external_id=f"customer_extra_{i}")
    listed = all_pages(unkey.identities.list_identities(limit=2))
    check(len(listed) == 4, listed)
    key = unkey.keys.create_key(api_id=api_id, external_id="customer_1").data.key
    v = unkey.keys.verify_key(key=key)
    check(v.data.identity.external_id == "customer_1" and v.data.identity.meta == {"plan": "pro"}, v)
    updated = unkey.identities.update_identity(identity=identity_id, meta={"plan": "free"})
    check(updated.data.meta == {"plan": "free"}, updated)
    check(unkey.keys.verify_key(key=key).data.identity.meta == {"plan": "free"}, "new meta at once")
    unkey.identities.delete_identity(identity="customer_1")
    v = unkey.keys.verify_key(key=key)
    check(v.data.valid and v.data.identity is None, v)
    raises(errors.NotFoundErrorResponse, lambda: unkey.identities.get_identity(identity=identity_id))
    # deleteIdentity declares its errors as problem+json only: a 404 is an UnkeyError.
    raises(errors.UnkeyError, lambda: unkey.identities.delete_identity(identity=identity_id), status=404)
    again = unkey.identities.create_identity(external_id="customer_1")
    check(again.data.identity_id != identity_id, "the externalId is free again")


def ratelimits(unkey, api_id):
    # The standalone limiter: a namespace created on first use, Unkey's fields.
    first = unkey.ratelimit.limit(namespace="sdk.email", identifier="user_1", limit=2, duration=3_600_000)
    check(first.data.success and first.data.remaining == 1 and first.data.limit == 2, first)
    check(first.data.reset > int(time.time() * 1000), first)
    unkey.ratelimit.limit(namespace="sdk.email", identifier="user_1", limit=2, duration=3_600_000)
    refused = unkey.ratelimit.limit(namespace="sdk.email", identifier="user_1", limit=2, duration=3_600_000)
    check(not refused.data.success and refused.data.remaining == 0, refused)
    multi = unkey.ratelimit.multi_limit(request=[
        {"namespace": "sdk.email", "identifier": "user_2", "limit": 5, "duration": 60_000},
        {"namespace": "sdk.email", "identifier": "user_1", "limit": 2, "duration": 3_600_000},
    ])
    check(not multi.data.passed and multi.data.limits[0].passed and not multi.data.limits[1].passed, multi)
    check(multi.data.limits[0].remaining == 5, "nothing charged when one check fails")
    override = unkey.ratelimit.set_override(namespace="sdk.email", identifier="*@acme.com", limit=10, duration=60_000)
    override_id = override.data.override_id
    got = unkey.ratelimit.get_override(namespace="sdk.email", identifier="ceo@acme.com")
    check(got.data.override_id == override_id and got.data.identifier == "*@acme.com", got)
    applied = unkey.ratelimit.limit(namespace="sdk.email", identifier="ceo@acme.com", limit=1, duration=1000)
    check(applied.data.override_id == override_id and applied.data.limit == 10, applied)
    listed = all_pages(unkey.ratelimit.list_overrides(namespace="sdk.email"))
    check([o.override_id for o in listed] == [override_id], listed)
    unkey.ratelimit.delete_override(namespace="sdk.email", identifier="*@acme.com")
    raises(errors.NotFoundErrorResponse, lambda: unkey.ratelimit.get_override(namespace="sdk.email", identifier="ceo@acme.com"))

    # Limits of keys and identities, and a refill, through the SDK's request and response models.
    unkey.identities.create_identity(
        external_id="limited_org",
        ratelimits=[{"name": "shared", "limit": 100, "duration": 60_000, "auto_apply": True}],
    )
    created = unkey.keys.create_key(
        api_id=api_id,
        external_id="limited_org",
        credits={"remaining": 10, "refill": {"interval": "daily", "amount": 10}},
        ratelimits=[
            {"name": "requests", "limit": 1, "duration": 60_000, "auto_apply": True},
            {"name": "tokens", "limit": 100, "duration": 60_000, "auto_apply": False},
        ],
    )
    key = created.data.key
    stored = unkey.keys.get_key(key_id=created.data.key_id)
    check(sorted(r.name for r in stored.data.ratelimits) == ["requests", "tokens"], stored)
    check(stored.data.identity.ratelimits[0].name == "shared", stored)
    check(stored.data.credits.refill.amount == 10, stored)
    v = unkey.keys.verify_key(key=key, ratelimits=[{"name": "tokens", "cost": 30}])
    check(v.data.valid and v.data.credits == 9, v)
    by_name = {r.name: r for r in v.data.ratelimits}
    check(by_name["tokens"].remaining == 70 and not by_name["tokens"].exceeded, v)
    check(by_name["requests"].remaining == 0 and by_name["requests"].auto_apply, v)
    check(by_name["shared"].remaining == 99, v)
    v = unkey.keys.verify_key(key=key)
    check(v.data.code == "RATE_LIMITED" and v.data.credits == 9, v)
    raises(errors.UnkeyError, lambda: unkey.keys.verify_key(key=key, ratelimits=[{"name": "nope"}]), status=412)


def main():
    with client() as unkey:
        ws = workspace_id(unkey)
        api_id = root_keys(unkey, ws)
        permissions(unkey)
        keys(unkey, api_id, ws)
        identities(unkey, api_id)
        ratelimits(unkey, api_id)
    print(f"unkey-py 3.2.2 against keyward: {CHECKS} checks passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"conformance failure: {e}", file=sys.stderr)
        raise
