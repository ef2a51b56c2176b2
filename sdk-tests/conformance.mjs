// SDK conformance: drives a running keyward through Unkey's official TypeScript SDK
// (`@unkey/api`, version pinned in package.json) and fails on the first wire mismatch.
//
//   KEYWARD_URL=http://127.0.0.1:7070 KEYWARD_ROOT_KEY=… node sdk-tests/conformance.mjs
//
// The root key must hold every permission (the bootstrap root key does). The script creates its
// own APIs and keys, so it can run against a server that already holds data.
//
// What is checked, on every call:
// - the SDK itself accepts the response: it parses every body with its generated zod schemas,
//   so a missing required field, a wrong type, a `null` where the SDK expects an absent field or a
//   wrong envelope surfaces as a `ResponseValidationError`, and an error body of the wrong shape
//   or Content-Type stops the SDK from raising its typed error class;
// - the raw body holds no field the SDK's schema does not know (zod drops those silently, which
//   would hide a misspelt optional field), `meta.requestId` is `req_…`, and the Content-Type is
//   `application/json`;
// - the values returned are the ones the issue and the reference require (flow by flow below).
//
// Everything goes through the SDK except keyward's extension `apis.updateApi` (not in the SDK),
// used to switch delete protection, and `rootKeys.createRootKey`, used to get a root key with
// fewer permissions; both are called with fetch.

import { HTTPClient, Unkey } from "@unkey/api";
import * as components from "@unkey/api/models/components";
import * as errors from "@unkey/api/models/errors";
import { readFileSync } from "node:fs";

const BASE_URL = (process.env.KEYWARD_URL ?? "").replace(/\/+$/, "");
const ROOT_KEY = process.env.KEYWARD_ROOT_KEY ?? "";
if (!BASE_URL || !ROOT_KEY) {
  console.error(
    "usage: KEYWARD_URL=http://127.0.0.1:7070 KEYWARD_ROOT_KEY=<root key> node conformance.mjs",
  );
  process.exit(2);
}

const SDK_VERSION = JSON.parse(
  readFileSync(new URL("./node_modules/@unkey/api/package.json", import.meta.url), "utf8"),
).version;
const ERROR_TYPE_BASE = "https://unkey.com/docs/errors/";

// ---------------------------------------------------------------------------------------------
// Bookkeeping and failure reporting

let checksPassed = 0;
let currentFlow = "setup";
const flowsDone = [];

/** Every HTTP exchange the SDK made, newest last (bodies read from clones). */
const exchanges = [];

function flow(name) {
  if (currentFlow !== "setup") flowsDone.push(currentFlow);
  currentFlow = name;
}

function fail(check, message) {
  const lines = [
    "",
    `SDK CONFORMANCE FAILURE (@unkey/api ${SDK_VERSION} against ${BASE_URL})`,
    `  flow:  ${currentFlow}`,
    `  check: ${check}`,
    "",
    indent(message, "  "),
  ];
  const last = exchanges.at(-1);
  if (last) {
    lines.push(
      "",
      "  last exchange:",
      `    ${last.method} ${last.url}`,
      `    request body:  ${last.requestBody}`,
      `    response:      HTTP ${last.status} (Content-Type: ${last.contentType})`,
      `    response body: ${last.body}`,
    );
  }
  lines.push("", `${checksPassed} checks passed before this failure.`);
  console.error(lines.join("\n"));
  process.exit(1);
}

function indent(text, prefix) {
  return String(text)
    .split("\n")
    .map((l) => prefix + l)
    .join("\n");
}

function check(name, condition, message = "") {
  if (!condition) fail(name, message || "assertion failed");
  checksPassed += 1;
}

function checkEqual(name, actual, expected) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  check(name, a === e, `expected ${e}\n     got ${a}`);
}

function checkDeepEqual(name, actual, expected) {
  check(
    name,
    JSON.stringify(canonical(actual)) === JSON.stringify(canonical(expected)),
    `expected ${JSON.stringify(expected)}\n     got ${JSON.stringify(actual)}`,
  );
}

function canonical(v) {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical(v[k])]),
    );
  }
  return v;
}

function checkAbsent(name, obj, field) {
  check(
    name,
    obj !== null && typeof obj === "object" && !(field in obj),
    `expected field '${field}' to be absent, got ${JSON.stringify(obj?.[field])}`,
  );
}

/** A human account of an error thrown by an SDK call. */
function describeError(err) {
  if (err instanceof errors.ResponseValidationError) {
    return [
      `The SDK rejected keyward's HTTP ${err.statusCode} response: it does not match the SDK's schema.`,
      err.pretty(),
      `raw body: ${err.body}`,
    ].join("\n");
  }
  if (err instanceof errors.APIError) {
    return [
      `The SDK could not match keyward's response (${err.message}): HTTP ${err.statusCode}, ` +
        `Content-Type '${err.contentType}'. The SDK expects 'application/json' for 200/400/401/403/404/412/500 ` +
        `and 'application/problem+json' for 429.`,
      `raw body: ${err.body}`,
    ].join("\n");
  }
  if (err instanceof errors.UnkeyError) {
    return `${err.name} (HTTP ${err.statusCode}): ${err.message}\nraw body: ${err.body}`;
  }
  return err?.stack ?? String(err);
}

// ---------------------------------------------------------------------------------------------
// Raw-body checks against the SDK's own schemas

const S = components;
for (const name of [
  "V2ApisCreateApiResponseBody$inboundSchema",
  "V2ApisGetApiResponseBody$inboundSchema",
  "V2ApisListKeysResponseBody$inboundSchema",
  "V2ApisDeleteApiResponseBody$inboundSchema",
  "V2KeysCreateKeyResponseBody$inboundSchema",
  "V2KeysGetKeyResponseBody$inboundSchema",
  "V2KeysWhoamiResponseBody$inboundSchema",
  "V2KeysUpdateKeyResponseBody$inboundSchema",
  "V2KeysUpdateCreditsResponseBody$inboundSchema",
  "V2KeysRerollKeyResponseBody$inboundSchema",
  "V2KeysDeleteKeyResponseBody$inboundSchema",
  "V2KeysVerifyKeyResponseBody$inboundSchema",
  "Meta$inboundSchema",
  "BaseError$inboundSchema",
  "BadRequestErrorDetails$inboundSchema",
]) {
  if (!S[name]) fail("SDK layout", `@unkey/api ${SDK_VERSION} no longer exports components.${name}`);
}

/** Objects of the error bodies, built from the SDK's component schemas (the error classes add
 * request/response fields that are not part of the wire body). */
const ERROR_BODY = { meta: S.Meta$inboundSchema, error: S.BaseError$inboundSchema };
const BAD_REQUEST_BODY = { meta: S.Meta$inboundSchema, error: S.BadRequestErrorDetails$inboundSchema };

/**
 * Fields keyward sends that the SDK does not model, and why that is fine. Anything else unknown
 * to the SDK fails the run.
 */
const ALLOWED_EXTRA_FIELDS = new Map([
  // getApi also reports delete protection, which keyward lets callers switch (apis.updateApi,
  // a keyward extension); the SDK ignores the field.
  ["$.data.deleteProtection", "keyward extension: getApi reports delete protection"],
  // verifyKey answers the key's keyspace, as Unkey's newest API does (unkey-py 3.x models it;
  // this SDK predates it and ignores the field).
  ["$.data.keyspaceId", "Unkey's newest API: verifyKey reports the key's keyspace"],
]);

function unwrapSchema(schema) {
  let s = schema;
  for (;;) {
    const t = s?._def?.typeName;
    if (t === "ZodOptional" || t === "ZodNullable" || t === "ZodDefault") s = s._def.innerType;
    else if (t === "ZodEffects") s = s._def.schema;
    else if (t === "ZodLazy") s = s._def.getter();
    else if (t === "ZodPipeline") s = s._def.in;
    else return s;
  }
}

/** Paths in `value` that `schema` has no field for (records and `any` accept everything). */
function unknownFields(schema, value, path = "$", out = []) {
  if (value === null || value === undefined) return out;
  let s = schema;
  if (!s?._def && typeof s === "object") {
    // A plain `{ field: schema }` map (the error bodies above).
    for (const k of Object.keys(value)) {
      if (!(k in s)) out.push(`${path}.${k}`);
      else unknownFields(s[k], value[k], `${path}.${k}`, out);
    }
    return out;
  }
  s = unwrapSchema(s);
  const t = s?._def?.typeName;
  if (t === "ZodObject" && typeof value === "object" && !Array.isArray(value)) {
    const shape = s.shape;
    for (const k of Object.keys(value)) {
      if (!(k in shape)) out.push(`${path}.${k}`);
      else unknownFields(shape[k], value[k], `${path}.${k}`, out);
    }
  } else if (t === "ZodArray" && Array.isArray(value)) {
    value.forEach((v, i) => unknownFields(s._def.type, v, `${path}[${i}]`, out));
  }
  return out;
}

/** Checks the raw exchanges made since `from` against `bodySchema` and the envelope rules. */
function checkRawExchanges(label, from, bodySchema) {
  const made = exchanges.slice(from);
  check(`${label}: made an HTTP request`, made.length > 0, "the SDK sent no request");
  for (const ex of made) {
    check(
      `${label}: Content-Type is application/json`,
      ex.contentType.split(";")[0].trim().toLowerCase() === "application/json",
      `got Content-Type '${ex.contentType}' (HTTP ${ex.status})`,
    );
    let body;
    try {
      body = JSON.parse(ex.body);
    } catch (e) {
      fail(`${label}: body is JSON`, `${e}\nbody: ${ex.body}`);
    }
    check(
      `${label}: meta.requestId is req_…`,
      typeof body?.meta?.requestId === "string" && /^req_[A-Za-z0-9_]+$/.test(body.meta.requestId),
      `got meta ${JSON.stringify(body?.meta)}`,
    );
    const unknown = unknownFields(bodySchema, body).filter(
      (p) => !ALLOWED_EXTRA_FIELDS.has(p.replace(/\[\d+\]/g, "[]")),
    );
    check(
      `${label}: no fields unknown to the SDK`,
      unknown.length === 0,
      `keyward sent field(s) the SDK's schema does not have (the SDK silently drops them, so ` +
        `a value the SDK should see is lost): ${unknown.join(", ")}`,
    );
  }
}

/** Runs one successful SDK call; fails on any error and checks its raw response(s). */
async function ok(label, bodySchema, call) {
  const from = exchanges.length;
  let result;
  try {
    result = await call();
  } catch (err) {
    fail(`${label}: succeeds`, describeError(err));
  }
  checksPassed += 1;
  checkRawExchanges(label, from, bodySchema);
  return result;
}

/**
 * Runs one SDK call that must raise `ErrorClass` for HTTP `status` with error `type`
 * (`<system>/<category>/<specific>`), and checks the error body.
 */
async function rejects(label, { ErrorClass, status, type, detailMatches }, call) {
  const from = exchanges.length;
  let thrown;
  try {
    await call();
  } catch (err) {
    thrown = err;
  }
  if (thrown === undefined) fail(`${label}: raises ${ErrorClass.name}`, "the call succeeded");
  check(
    `${label}: raises ${ErrorClass.name}`,
    thrown instanceof ErrorClass,
    `expected the SDK's typed error ${ErrorClass.name} (HTTP ${status}); got instead:\n${describeError(thrown)}`,
  );
  const err = thrown;
  checkEqual(`${label}: HTTP status`, err.statusCode, status);
  checkEqual(`${label}: error.status`, err.error.status, status);
  checkEqual(`${label}: error.type`, err.error.type, ERROR_TYPE_BASE + type);
  check(`${label}: error.title`, typeof err.error.title === "string" && err.error.title.length > 0);
  check(
    `${label}: error.detail says what went wrong`,
    typeof err.error.detail === "string" &&
      err.error.detail.length > 0 &&
      (!detailMatches || detailMatches.test(err.error.detail)),
    `got detail ${JSON.stringify(err.error.detail)}${detailMatches ? `, expected to match ${detailMatches}` : ""}`,
  );
  check(`${label}: error.meta.requestId`, /^req_/.test(err.meta?.requestId ?? ""), `got ${JSON.stringify(err.meta)}`);
  checkRawExchanges(label, from, status === 400 ? BAD_REQUEST_BODY : ERROR_BODY);
  return err;
}

// ---------------------------------------------------------------------------------------------
// The client

const httpClient = new HTTPClient({
  fetcher: async (input, init) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const requestBody = await request
      .clone()
      .text()
      .catch(() => "");
    const response = await fetch(request);
    const body = await response
      .clone()
      .text()
      .catch(() => "");
    exchanges.push({
      method: request.method,
      url: request.url,
      requestBody,
      status: response.status,
      contentType: response.headers.get("content-type") ?? "",
      body,
    });
    return response;
  },
});

function client(rootKey) {
  // No retries: a 5xx must fail the run at once, not be retried for ten seconds.
  return new Unkey({ rootKey, serverURL: BASE_URL, httpClient, retryConfig: { strategy: "none" } });
}

const unkey = client(ROOT_KEY);

for (const event of ["uncaughtException", "unhandledRejection"]) {
  process.on(event, (err) => fail("no unexpected exception", describeError(err)));
}

/** A keyward extension endpoint (not in the SDK), called with fetch. */
async function extension(operation, body) {
  const response = await fetch(`${BASE_URL}/v2/${operation}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${ROOT_KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 200) {
    fail(`${operation} (extension, via fetch) succeeds`, `HTTP ${response.status}: ${text}`);
  }
  return JSON.parse(text).data;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const RUN = Math.random().toString(36).slice(2, 10);
const BASE58 = /^[1-9A-HJ-NP-Za-km-z]+$/;

// Shorthands for the schemas of the calls.
const CREATE_API = S.V2ApisCreateApiResponseBody$inboundSchema;
const GET_API = S.V2ApisGetApiResponseBody$inboundSchema;
const LIST_KEYS = S.V2ApisListKeysResponseBody$inboundSchema;
const DELETE_API = S.V2ApisDeleteApiResponseBody$inboundSchema;
const CREATE_KEY = S.V2KeysCreateKeyResponseBody$inboundSchema;
const GET_KEY = S.V2KeysGetKeyResponseBody$inboundSchema;
const WHOAMI = S.V2KeysWhoamiResponseBody$inboundSchema;
const UPDATE_KEY = S.V2KeysUpdateKeyResponseBody$inboundSchema;
const UPDATE_CREDITS = S.V2KeysUpdateCreditsResponseBody$inboundSchema;
const REROLL = S.V2KeysRerollKeyResponseBody$inboundSchema;
const DELETE_KEY = S.V2KeysDeleteKeyResponseBody$inboundSchema;
const VERIFY = S.V2KeysVerifyKeyResponseBody$inboundSchema;

const VERIFY_CODES = new Set(Object.values(S.Code));
const REFILL_INTERVALS = new Set(Object.values(S.KeyCreditsRefillInterval));

async function verify(label, request, expectedCode) {
  const res = await ok(`verifyKey ${label}`, VERIFY, () => unkey.keys.verifyKey(request));
  check(
    `verifyKey ${label}: code is one of the SDK's codes`,
    VERIFY_CODES.has(res.data.code),
    `got code ${JSON.stringify(res.data.code)}; the SDK knows ${[...VERIFY_CODES].join(", ")}`,
  );
  checkEqual(`verifyKey ${label}: code`, res.data.code, expectedCode);
  checkEqual(`verifyKey ${label}: valid`, res.data.valid, expectedCode === "VALID");
  return res.data;
}

async function getKey(label, keyId) {
  const res = await ok(`getKey ${label}`, GET_KEY, () => unkey.keys.getKey({ keyId }));
  checkEqual(`getKey ${label}: keyId`, res.data.keyId, keyId);
  if (res.data.credits?.refill) {
    check(
      `getKey ${label}: refill interval is one of the SDK's`,
      REFILL_INTERVALS.has(res.data.credits.refill.interval),
      `got ${JSON.stringify(res.data.credits.refill.interval)}`,
    );
  }
  return res.data;
}

/** All pages of `apis.listKeys`, following the SDK's own paginator; checks each page's
 * pagination object. */
async function listAllKeys(label, request) {
  const pages = [];
  let page = await ok(`listKeys ${label} (page 1)`, LIST_KEYS, () => unkey.apis.listKeys(request));
  for (;;) {
    const body = page.result;
    pages.push(body);
    const n = pages.length;
    check(
      `listKeys ${label} (page ${n}): a page holds at most 'limit' keys`,
      body.data.length <= (request.limit ?? 100),
      `got ${body.data.length} keys with limit ${request.limit}`,
    );
    if (body.pagination.hasMore) {
      check(
        `listKeys ${label} (page ${n}): hasMore=true comes with a cursor`,
        typeof body.pagination.cursor === "string" && body.pagination.cursor.trim() !== "",
        `got pagination ${JSON.stringify(body.pagination)}; the SDK stops paginating without a cursor`,
      );
    } else {
      checkAbsent(
        `listKeys ${label} (page ${n}): no cursor on the last page (the SDK would fetch another page)`,
        body.pagination,
        "cursor",
      );
    }
    if (n > 50) fail(`listKeys ${label}: pagination ends`, "more than 50 pages; the cursor does not advance");
    // The SDK's paginator: null when the page has no cursor, else the next page's request.
    const pending = page.next();
    if (pending === null) break;
    const next = await ok(`listKeys ${label} (page ${n + 1})`, LIST_KEYS, () => pending);
    check(
      `listKeys ${label}: the SDK asks for another page only after hasMore=true`,
      body.pagination.hasMore,
    );
    page = next;
  }
  return pages;
}

// ---------------------------------------------------------------------------------------------
// The flows

const t0 = Date.now();

// --- APIs -------------------------------------------------------------------------------------
flow("apis.createApi / getApi");
const apiName = `sdk-conformance-${RUN}`;
const { data: createdApi } = await ok("createApi", CREATE_API, () => unkey.apis.createApi({ name: apiName }));
const apiId = createdApi.apiId;
check("createApi: apiId is api_…", /^api_[A-Za-z0-9_]+$/.test(apiId), `got ${JSON.stringify(apiId)}`);
{
  const { data } = await ok("getApi", GET_API, () => unkey.apis.getApi({ apiId }));
  checkEqual("getApi: id", data.id, apiId);
  checkEqual("getApi: name", data.name, apiName);
}

// --- createKey with every field ---------------------------------------------------------------
flow("keys.createKey (prefix, byteLength, name, externalId, meta, expires, enabled, credits+refill)");
const userA = `user_${RUN}_a`;
const meta = { plan: "pro", seats: 3, flags: { beta: true }, tags: ["a", "b"] };
const expiresAt = Date.now() + 3_600_000;
const { data: keyA } = await ok("createKey (all fields)", CREATE_KEY, () =>
  unkey.keys.createKey({
    apiId,
    prefix: "sdk",
    byteLength: 24,
    name: "conformance key A",
    externalId: userA,
    meta,
    expires: expiresAt,
    enabled: true,
    credits: { remaining: 100, refill: { interval: "daily", amount: 100 } },
  }),
);
check("createKey: keyId is key_…", /^key_[A-Za-z0-9_]+$/.test(keyA.keyId), `got ${JSON.stringify(keyA.keyId)}`);
check(
  "createKey: key is sdk_<base58>",
  keyA.key.startsWith("sdk_") && BASE58.test(keyA.key.slice(4)),
  `got ${JSON.stringify(keyA.key)}`,
);
check(
  "createKey: byteLength 24 gives a longer key than 16 bytes would (≥ 31 base58 chars)",
  keyA.key.length - 4 >= 31,
  `got ${keyA.key.length - 4} base58 characters`,
);

const { data: keyMonthly } = await ok("createKey (monthly refill)", CREATE_KEY, () =>
  unkey.keys.createKey({
    apiId,
    credits: { remaining: 10, refill: { interval: "monthly", amount: 50, refillDay: 15 } },
  }),
);
check("createKey without prefix: bare base58 key", BASE58.test(keyMonthly.key), `got ${JSON.stringify(keyMonthly.key)}`);

// --- getKey / whoami ----------------------------------------------------------------------------
flow("keys.getKey / keys.whoami");
let identityA;
{
  const k = await getKey("(all fields)", keyA.keyId);
  checkEqual("getKey: start is the prefix and the first 4 characters", k.start, keyA.key.slice(0, 8));
  checkEqual("getKey: enabled", k.enabled, true);
  checkEqual("getKey: name", k.name, "conformance key A");
  checkDeepEqual("getKey: meta", k.meta, meta);
  checkEqual("getKey: expires", k.expires, expiresAt);
  check(
    "getKey: createdAt is unix ms of now",
    Number.isInteger(k.createdAt) && k.createdAt >= t0 - 60_000 && k.createdAt <= Date.now() + 60_000,
    `got ${k.createdAt}, now is ${Date.now()}`,
  );
  checkDeepEqual("getKey: credits", k.credits, { remaining: 100, refill: { interval: "daily", amount: 100 } });
  checkEqual("getKey: identity.externalId", k.identity?.externalId, userA);
  check("getKey: identity.id is id_…", /^id_/.test(k.identity?.id ?? ""), `got ${JSON.stringify(k.identity)}`);
  identityA = k.identity.id;
  checkAbsent("getKey: no plaintext without decrypt", k, "plaintext");

  const m = await getKey("(monthly refill)", keyMonthly.keyId);
  checkDeepEqual("getKey: monthly refill", m.credits, {
    remaining: 10,
    refill: { interval: "monthly", amount: 50, refillDay: 15 },
  });
  checkAbsent("getKey: no name when none was given", m, "name");
  checkAbsent("getKey: no meta when none was given", m, "meta");
  checkAbsent("getKey: no expires when none was given", m, "expires");
  checkAbsent("getKey: no identity when no externalId was given", m, "identity");

  const { data: w } = await ok("whoami", WHOAMI, () => unkey.keys.whoami({ key: keyA.key }));
  checkEqual("whoami: keyId", w.keyId, keyA.keyId);
  checkEqual("whoami: start", w.start, k.start);
  checkEqual("whoami: name", w.name, k.name);
  checkDeepEqual("whoami: meta", w.meta, meta);
  checkDeepEqual("whoami: credits", w.credits, k.credits);
  checkEqual("whoami: identity.externalId", w.identity?.externalId, userA);
}

// --- verifyKey and credits ----------------------------------------------------------------------
flow("keys.verifyKey (VALID, credits cost) / keys.updateCredits / USAGE_EXCEEDED");
{
  const v = await verify("VALID (default cost 1)", { key: keyA.key }, "VALID");
  checkEqual("verifyKey VALID: keyId", v.keyId, keyA.keyId);
  checkEqual("verifyKey VALID: name", v.name, "conformance key A");
  checkDeepEqual("verifyKey VALID: meta", v.meta, meta);
  checkEqual("verifyKey VALID: expires", v.expires, expiresAt);
  checkEqual("verifyKey VALID: credits left after cost 1", v.credits, 99);
  checkEqual("verifyKey VALID: enabled", v.enabled, true);
  checkEqual("verifyKey VALID: identity.externalId", v.identity?.externalId, userA);
  checkEqual("verifyKey VALID: identity.id", v.identity?.id, identityA);

  const v5 = await verify("VALID (cost 5)", { key: keyA.key, credits: { cost: 5 } }, "VALID");
  checkEqual("verifyKey cost 5: credits", v5.credits, 94);

  const set = await ok("updateCredits set 3", UPDATE_CREDITS, () =>
    unkey.keys.updateCredits({ keyId: keyA.keyId, operation: "set", value: 3 }),
  );
  checkDeepEqual("updateCredits set 3: data", set.data, {
    remaining: 3,
    refill: { interval: "daily", amount: 100 },
  });
  const inc = await ok("updateCredits increment 2", UPDATE_CREDITS, () =>
    unkey.keys.updateCredits({ keyId: keyA.keyId, operation: "increment", value: 2 }),
  );
  checkEqual("updateCredits increment 2: remaining", inc.data.remaining, 5);
  const dec = await ok("updateCredits decrement 1", UPDATE_CREDITS, () =>
    unkey.keys.updateCredits({ keyId: keyA.keyId, operation: "decrement", value: 1 }),
  );
  checkEqual("updateCredits decrement 1: remaining", dec.data.remaining, 4);

  await verify("USAGE_EXCEEDED (cost 5 of 4)", { key: keyA.key, credits: { cost: 5 } }, "USAGE_EXCEEDED");
  checkEqual(
    "USAGE_EXCEEDED deducts nothing",
    (await getKey("(after USAGE_EXCEEDED)", keyA.keyId)).credits?.remaining,
    4,
  );
  const v4 = await verify("VALID (cost 4 of 4)", { key: keyA.key, credits: { cost: 4 } }, "VALID");
  checkEqual("verifyKey cost 4 of 4: credits", v4.credits, 0);
  await verify("USAGE_EXCEEDED (default cost at 0)", { key: keyA.key }, "USAGE_EXCEEDED");
  await verify("VALID (cost 0 at 0)", { key: keyA.key, credits: { cost: 0 } }, "VALID");

  const unlimited = await ok("updateCredits set null (unlimited)", UPDATE_CREDITS, () =>
    unkey.keys.updateCredits({ keyId: keyA.keyId, operation: "set", value: null }),
  );
  checkEqual("updateCredits set null: remaining is null", unlimited.data.remaining, null);
  checkAbsent("updateCredits set null: refill cleared", unlimited.data, "refill");
  const vu = await verify("VALID (unlimited)", { key: keyA.key }, "VALID");
  checkAbsent("verifyKey on an unlimited key: no credits field", vu, "credits");
  const ku = await getKey("(unlimited)", keyA.keyId);
  check(
    "getKey (unlimited): credits absent or remaining null without refill",
    ku.credits === undefined || (ku.credits.remaining === null && ku.credits.refill === undefined),
    `got credits ${JSON.stringify(ku.credits)}`,
  );
}

// --- updateKey tri-state, disable / enable -----------------------------------------------------
flow("keys.updateKey (set, unchanged, clear with null, enabled false/true)");
{
  await ok("updateKey name only", UPDATE_KEY, () => unkey.keys.updateKey({ keyId: keyA.keyId, name: "renamed" }));
  let k = await getKey("(after name update)", keyA.keyId);
  checkEqual("updateKey: name set", k.name, "renamed");
  checkDeepEqual("updateKey: absent meta left unchanged", k.meta, meta);
  checkEqual("updateKey: absent expires left unchanged", k.expires, expiresAt);
  checkEqual("updateKey: absent externalId left unchanged", k.identity?.externalId, userA);

  await ok("updateKey clear with null", UPDATE_KEY, () =>
    unkey.keys.updateKey({ keyId: keyA.keyId, name: null, meta: null, expires: null, externalId: null }),
  );
  k = await getKey("(after clearing)", keyA.keyId);
  checkAbsent("updateKey: name null clears it", k, "name");
  checkAbsent("updateKey: meta null clears it", k, "meta");
  checkAbsent("updateKey: expires null clears it", k, "expires");
  checkAbsent("updateKey: externalId null unlinks the identity", k, "identity");

  const newMeta = { plan: "enterprise" };
  const newExpires = Date.now() + 7_200_000;
  const userA2 = `user_${RUN}_a2`;
  await ok("updateKey set every field", UPDATE_KEY, () =>
    unkey.keys.updateKey({
      keyId: keyA.keyId,
      name: "key A again",
      meta: newMeta,
      expires: newExpires,
      externalId: userA2,
      credits: { remaining: 10, refill: { interval: "monthly", amount: 20, refillDay: 1 } },
    }),
  );
  k = await getKey("(after setting)", keyA.keyId);
  checkEqual("updateKey: name", k.name, "key A again");
  checkDeepEqual("updateKey: meta", k.meta, newMeta);
  checkEqual("updateKey: expires", k.expires, newExpires);
  checkEqual("updateKey: externalId", k.identity?.externalId, userA2);
  checkDeepEqual("updateKey: credits", k.credits, {
    remaining: 10,
    refill: { interval: "monthly", amount: 20, refillDay: 1 },
  });
  check("updateKey: updatedAt set", Number.isInteger(k.updatedAt) && k.updatedAt >= k.createdAt, `got ${k.updatedAt}`);

  await ok("updateKey credits.refill null", UPDATE_KEY, () =>
    unkey.keys.updateKey({ keyId: keyA.keyId, credits: { refill: null } }),
  );
  k = await getKey("(after refill null)", keyA.keyId);
  checkDeepEqual("updateKey: refill null clears only the refill", k.credits, { remaining: 10 });

  await ok("updateKey credits null", UPDATE_KEY, () => unkey.keys.updateKey({ keyId: keyA.keyId, credits: null }));
  k = await getKey("(after credits null)", keyA.keyId);
  check(
    "updateKey: credits null makes the key unlimited",
    k.credits === undefined || (k.credits.remaining === null && k.credits.refill === undefined),
    `got credits ${JSON.stringify(k.credits)}`,
  );

  await ok("updateKey enabled false", UPDATE_KEY, () => unkey.keys.updateKey({ keyId: keyA.keyId, enabled: false }));
  checkEqual("getKey after disable: enabled", (await getKey("(disabled)", keyA.keyId)).enabled, false);
  const vd = await verify("DISABLED", { key: keyA.key }, "DISABLED");
  checkEqual("verifyKey DISABLED: keyId", vd.keyId, keyA.keyId);
  await ok("updateKey enabled true", UPDATE_KEY, () => unkey.keys.updateKey({ keyId: keyA.keyId, enabled: true }));
  checkEqual("getKey after enable: enabled", (await getKey("(re-enabled)", keyA.keyId)).enabled, true);
  await verify("VALID after re-enable", { key: keyA.key }, "VALID");
}

// --- EXPIRED -----------------------------------------------------------------------------------
flow("keys.verifyKey EXPIRED");
{
  const expiresSoon = Date.now() + 1500;
  const { data } = await ok("createKey (expires in 1.5 s)", CREATE_KEY, () =>
    unkey.keys.createKey({ apiId, prefix: "exp", expires: expiresSoon }),
  );
  if (Date.now() < expiresSoon - 200) await verify("VALID before expiry", { key: data.key }, "VALID");
  await sleep(Math.max(0, expiresSoon - Date.now()) + 300);
  const v = await verify("EXPIRED", { key: data.key }, "EXPIRED");
  checkEqual("verifyKey EXPIRED: keyId", v.keyId, data.keyId);
}

// --- rerollKey ---------------------------------------------------------------------------------
flow("keys.rerollKey");
{
  const { data: orig } = await ok("createKey (to reroll)", CREATE_KEY, () =>
    unkey.keys.createKey({ apiId, prefix: "rr", name: "reroll me", meta: { v: 1 }, externalId: userA }),
  );
  const before = Date.now();
  const { data: rolled } = await ok("rerollKey (expiration 60 s)", REROLL, () =>
    unkey.keys.rerollKey({ keyId: orig.keyId, expiration: 60_000 }),
  );
  check("rerollKey: new keyId", /^key_/.test(rolled.keyId) && rolled.keyId !== orig.keyId, `got ${rolled.keyId}`);
  check("rerollKey: new key keeps the prefix", rolled.key.startsWith("rr_") && rolled.key !== orig.key, `got ${rolled.key}`);
  await verify("new key VALID", { key: rolled.key }, "VALID");
  await verify("old key still VALID within the expiration", { key: orig.key }, "VALID");
  const old = await getKey("(rerolled original)", orig.keyId);
  check(
    "rerollKey: old key expires after the expiration (≤ 1 min rounding)",
    Number.isInteger(old.expires) && old.expires >= before + 60_000 - 1000 && old.expires <= Date.now() + 120_000,
    `got expires ${old.expires}, now ${Date.now()}`,
  );
  const fresh = await getKey("(rerolled new)", rolled.keyId);
  checkEqual("rerollKey: name copied", fresh.name, "reroll me");
  checkDeepEqual("rerollKey: meta copied", fresh.meta, { v: 1 });
  checkEqual("rerollKey: identity copied", fresh.identity?.externalId, userA);

  const { data: rolledNow } = await ok("rerollKey (expiration 0)", REROLL, () =>
    unkey.keys.rerollKey({ keyId: rolled.keyId, expiration: 0 }),
  );
  await verify("key rerolled with expiration 0 is EXPIRED", { key: rolled.key }, "EXPIRED");
  await verify("its replacement VALID", { key: rolledNow.key }, "VALID");
}

// --- deleteKey soft and permanent ---------------------------------------------------------------
flow("keys.deleteKey (soft, permanent)");
{
  const { data: soft } = await ok("createKey (to soft-delete)", CREATE_KEY, () => unkey.keys.createKey({ apiId }));
  const del = await ok("deleteKey soft", DELETE_KEY, () => unkey.keys.deleteKey({ keyId: soft.keyId }));
  checkDeepEqual("deleteKey: data is {}", del.data, {});
  const v = await verify("soft-deleted key NOT_FOUND", { key: soft.key }, "NOT_FOUND");
  checkAbsent("verifyKey NOT_FOUND: no keyId", v, "keyId");
  await rejects("getKey of a soft-deleted key", { ErrorClass: errors.NotFoundErrorResponse, status: 404, type: "unkey/data/key_not_found" }, () =>
    unkey.keys.getKey({ keyId: soft.keyId }),
  );
  await rejects("second deleteKey", { ErrorClass: errors.NotFoundErrorResponse, status: 404, type: "unkey/data/key_not_found" }, () =>
    unkey.keys.deleteKey({ keyId: soft.keyId }),
  );
  // keyward erases what the soft delete kept (Unkey answers 404 and keeps it; docs/API.md).
  const erased = await ok("permanent deleteKey of a soft-deleted key erases it", DELETE_KEY, () =>
    unkey.keys.deleteKey({ keyId: soft.keyId, permanent: true }),
  );
  checkDeepEqual("permanent deleteKey of a soft-deleted key: data is {}", erased.data, {});
  await rejects(
    "permanent deleteKey of an erased key",
    { ErrorClass: errors.NotFoundErrorResponse, status: 404, type: "unkey/data/key_not_found" },
    () => unkey.keys.deleteKey({ keyId: soft.keyId, permanent: true }),
  );

  const { data: perm } = await ok("createKey (to delete permanently)", CREATE_KEY, () => unkey.keys.createKey({ apiId }));
  await ok("deleteKey permanent", DELETE_KEY, () => unkey.keys.deleteKey({ keyId: perm.keyId, permanent: true }));
  await verify("permanently deleted key NOT_FOUND", { key: perm.key }, "NOT_FOUND");
  await rejects("getKey of a permanently deleted key", { ErrorClass: errors.NotFoundErrorResponse, status: 404, type: "unkey/data/key_not_found" }, () =>
    unkey.keys.getKey({ keyId: perm.keyId }),
  );
  await verify("unknown key NOT_FOUND", { key: `sdk_${"1".repeat(30)}` }, "NOT_FOUND");
}

// --- listKeys: externalId filter and cursor pagination ------------------------------------------
flow("apis.listKeys (externalId filter, cursor pagination)");
const customer = `cust_${RUN}`;
const customerKeys = [];
{
  for (let i = 0; i < 5; i += 1) {
    const { data } = await ok(`createKey (customer key ${i + 1})`, CREATE_KEY, () =>
      unkey.keys.createKey({ apiId, prefix: "cust", externalId: customer, name: `customer key ${i + 1}` }),
    );
    customerKeys.push(data);
  }
  for (let i = 0; i < 2; i += 1) {
    await ok(`createKey (other customer ${i + 1})`, CREATE_KEY, () =>
      unkey.keys.createKey({ apiId, externalId: `${customer}_other` }),
    );
  }

  const pages = await listAllKeys("externalId, limit 2", { apiId, externalId: customer, limit: 2 });
  checkEqual("listKeys externalId limit 2: 3 pages for 5 keys", pages.length, 3);
  checkEqual("listKeys: hasMore on each page", pages.map((p) => p.pagination.hasMore), [true, true, false]);
  const listed = pages.flatMap((p) => p.data);
  checkDeepEqual(
    "listKeys externalId: exactly the customer's keys, each once",
    listed.map((k) => k.keyId).sort(),
    customerKeys.map((k) => k.keyId).sort(),
  );
  for (const k of listed) {
    checkEqual(`listKeys: ${k.keyId} identity.externalId`, k.identity?.externalId, customer);
    const created = customerKeys.find((c) => c.keyId === k.keyId);
    checkEqual(`listKeys: ${k.keyId} start`, k.start, created.key.slice(0, 9));
    checkAbsent(`listKeys: ${k.keyId} no plaintext`, k, "plaintext");
  }

  const unknown = await listAllKeys("unknown externalId", { apiId, externalId: `nobody_${RUN}` });
  checkEqual("listKeys unknown externalId: one empty page", unknown.map((p) => p.data.length), [0]);

  const all = (await listAllKeys("whole API, limit 3", { apiId, limit: 3 })).flatMap((p) => p.data.map((k) => k.keyId));
  checkEqual("listKeys whole API: no key twice", new Set(all).size, all.length);
  check("listKeys whole API: holds key A", all.includes(keyA.keyId), `keys: ${all.join(", ")}`);
  check(
    "listKeys whole API: holds every customer key",
    customerKeys.every((k) => all.includes(k.keyId)),
    `keys: ${all.join(", ")}`,
  );
}

// --- The revocation guide's bulk loop ----------------------------------------------------------
flow("bulk revocation (revocation guide: list a user's keys, delete each)");
{
  // The guide's sample predates SDK 2.x (`unkey.keys.list` / `keys.delete`); in 2.x the same loop
  // is apis.listKeys with externalId, then keys.deleteKey for each key, following the cursor.
  const page1 = await ok("listKeys (bulk revocation)", LIST_KEYS, () =>
    unkey.apis.listKeys({ apiId, externalId: customer, limit: 2 }),
  );
  const revoked = [];
  try {
    for await (const page of page1) {
      for (const key of page.result.data) {
        await ok(`deleteKey ${key.keyId} (bulk revocation)`, DELETE_KEY, () =>
          unkey.keys.deleteKey({ keyId: key.keyId }),
        );
        revoked.push(key.keyId);
      }
    }
  } catch (err) {
    fail("bulk revocation: the SDK's page iterator reaches the end", describeError(err));
  }
  // Keyset pagination over ids: deleting while paging must not skip keys. Whatever a page boundary
  // did, a second pass must find nothing left.
  const leftover = await listAllKeys("after bulk revocation", { apiId, externalId: customer });
  checkEqual("bulk revocation: no key of the customer is left", leftover.flatMap((p) => p.data.map((k) => k.keyId)), []);
  checkDeepEqual("bulk revocation: every customer key was revoked", revoked.sort(), customerKeys.map((k) => k.keyId).sort());
  for (const k of customerKeys) await verify(`revoked ${k.keyId} NOT_FOUND`, { key: k.key }, "NOT_FOUND");
}

// --- deleteApi: 412 under delete protection, then delete --------------------------------------
flow("apis.deleteApi (412 with delete protection, then delete, 404 after)");
{
  const { data: doomed } = await ok("createApi (to delete)", CREATE_API, () =>
    unkey.apis.createApi({ name: `sdk-conformance-${RUN}-doomed` }),
  );
  const { data: doomedKey } = await ok("createKey (in the API to delete)", CREATE_KEY, () =>
    unkey.keys.createKey({ apiId: doomed.apiId, prefix: "doomed" }),
  );
  await verify("key of the API VALID before delete", { key: doomedKey.key }, "VALID");

  await extension("apis.updateApi", { apiId: doomed.apiId, deleteProtection: true });
  await rejects(
    "deleteApi with delete protection",
    {
      ErrorClass: errors.PreconditionFailedErrorResponse,
      status: 412,
      type: "unkey/application/protected_resource",
      detailMatches: /delete protection/i,
    },
    () => unkey.apis.deleteApi({ apiId: doomed.apiId }),
  );
  await ok("getApi after refused delete", GET_API, () => unkey.apis.getApi({ apiId: doomed.apiId }));
  await verify("key VALID after refused delete", { key: doomedKey.key }, "VALID");

  await extension("apis.updateApi", { apiId: doomed.apiId, deleteProtection: false });
  const del = await ok("deleteApi", DELETE_API, () => unkey.apis.deleteApi({ apiId: doomed.apiId }));
  checkDeepEqual("deleteApi: data is {}", del.data, {});
  await verify("key of the deleted API NOT_FOUND", { key: doomedKey.key }, "NOT_FOUND");
  const notFoundApi = { ErrorClass: errors.NotFoundErrorResponse, status: 404, type: "unkey/data/api_not_found" };
  await rejects("getApi of the deleted API", notFoundApi, () => unkey.apis.getApi({ apiId: doomed.apiId }));
  await rejects("second deleteApi", notFoundApi, () => unkey.apis.deleteApi({ apiId: doomed.apiId }));
  await rejects("createKey in the deleted API", notFoundApi, () => unkey.keys.createKey({ apiId: doomed.apiId }));
  await rejects("listKeys of the deleted API", notFoundApi, () => unkey.apis.listKeys({ apiId: doomed.apiId }));
  await rejects(
    "getKey of a key of the deleted API",
    { ErrorClass: errors.NotFoundErrorResponse, status: 404, type: "unkey/data/key_not_found" },
    () => unkey.keys.getKey({ keyId: doomedKey.keyId }),
  );
}

// --- Error handling: the SDK's typed errors -----------------------------------------------------
flow("error handling (typed errors for 400, 401, 403, 404)");
{
  await rejects(
    "getApi of an unknown API",
    { ErrorClass: errors.NotFoundErrorResponse, status: 404, type: "unkey/data/api_not_found" },
    () => unkey.apis.getApi({ apiId: "api_doesnotexist0000" }),
  );
  await rejects(
    "getKey of an unknown key",
    { ErrorClass: errors.NotFoundErrorResponse, status: 404, type: "unkey/data/key_not_found" },
    () => unkey.keys.getKey({ keyId: "key_doesnotexist0000" }),
  );
  const badName = await rejects(
    "createApi with a too-short name",
    { ErrorClass: errors.BadRequestErrorResponse, status: 400, type: "unkey/application/invalid_input" },
    () => unkey.apis.createApi({ name: "x" }),
  );
  check(
    "400 invalid_input: errors[] names the field",
    badName.error.errors.length >= 1 && badName.error.errors.some((e) => /name/.test(e.location + e.message)),
    `got errors ${JSON.stringify(badName.error.errors)}`,
  );
  const badLength = await rejects(
    "createKey with byteLength 8",
    { ErrorClass: errors.BadRequestErrorResponse, status: 400, type: "unkey/application/invalid_input" },
    () => unkey.keys.createKey({ apiId, byteLength: 8 }),
  );
  check("400 byteLength: errors[] non-empty", badLength.error.errors.length >= 1);
  const unlimited = await ok("createKey (unlimited, for updateCredits 400)", CREATE_KEY, () =>
    unkey.keys.createKey({ apiId }),
  );
  await rejects(
    "updateCredits increment on an unlimited key",
    { ErrorClass: errors.BadRequestErrorResponse, status: 400, type: "unkey/application/invalid_input" },
    () => unkey.keys.updateCredits({ keyId: unlimited.data.keyId, operation: "increment", value: 1 }),
  );

  await rejects(
    "getApi with an unknown root key",
    { ErrorClass: errors.UnauthorizedErrorResponse, status: 401, type: "unkey/authentication/key_not_found" },
    () => client(`unknown_root_key_${RUN}_padding`).apis.getApi({ apiId }),
  );

  const readOnly = await extension("rootKeys.createRootKey", {
    name: `sdk-conformance-${RUN}-read-only`,
    permissions: ["api.*.read_api"],
  });
  const limited = client(readOnly.key);
  await ok("getApi with a read_api-only root key", GET_API, () => limited.apis.getApi({ apiId }));
  await rejects(
    "deleteApi with a read_api-only root key",
    {
      ErrorClass: errors.ForbiddenErrorResponse,
      status: 403,
      type: "unkey/authorization/insufficient_permissions",
      detailMatches: /delete_api/,
    },
    () => limited.apis.deleteApi({ apiId }),
  );
  const vNoPerm = await ok("verifyKey with a root key lacking verify_key", VERIFY, () =>
    limited.keys.verifyKey({ key: keyA.key }),
  );
  checkEqual("verifyKey without verify_key permission: NOT_FOUND", vNoPerm.data.code, "NOT_FOUND");

  // A 400 raised outside schema validation must have the same shape as any other 400: the SDK's
  // BadRequestErrorDetails requires `errors` (Unkey sends an empty array there).
  await rejects(
    "verifyKey with a malformed permissions query",
    {
      ErrorClass: errors.BadRequestErrorResponse,
      status: 400,
      type: "user/bad_request/permissions_query_syntax_error",
    },
    () => unkey.keys.verifyKey({ key: keyA.key, permissions: "read AND" }),
  );
  // An unset root key: the SDK sends no Authorization header at all.
  await rejects(
    "getApi without a root key",
    { ErrorClass: errors.BadRequestErrorResponse, status: 400, type: "unkey/authentication/missing" },
    () => client("").apis.getApi({ apiId }),
  );
}

flow("ratelimit.limit / multiLimit / overrides; key rate limits in verifyKey");
{
  const LIMIT = S.V2RatelimitLimitResponseBody$inboundSchema;
  const namespace = `sdk.${RUN}`;
  const check1 = { namespace, identifier: "user_1", limit: 2, duration: 3_600_000 };
  const first = await ok("ratelimit.limit (creates the namespace)", LIMIT, () => unkey.ratelimit.limit(check1));
  checkEqual("ratelimit.limit: success", first.data.success, true);
  checkEqual("ratelimit.limit: remaining", first.data.remaining, 1);
  await ok("ratelimit.limit again", LIMIT, () => unkey.ratelimit.limit(check1));
  const refused = await ok("ratelimit.limit over the limit", LIMIT, () => unkey.ratelimit.limit(check1));
  checkEqual("ratelimit.limit over the limit: success", refused.data.success, false);
  const multi = await ok("ratelimit.multiLimit", S.V2RatelimitMultiLimitResponseBody$inboundSchema, () =>
    unkey.ratelimit.multiLimit([{ namespace, identifier: "user_2", limit: 5, duration: 60_000 }, check1]),
  );
  checkEqual("multiLimit: passed", multi.data.passed, false);
  checkEqual("multiLimit: the passing check is not charged", multi.data.limits[0].remaining, 5);
  const set = await ok("ratelimit.setOverride", S.V2RatelimitSetOverrideResponseBody$inboundSchema, () =>
    unkey.ratelimit.setOverride({ namespace, identifier: "*@acme.com", limit: 10, duration: 60_000 }),
  );
  const got = await ok("ratelimit.getOverride", S.V2RatelimitGetOverrideResponseBody$inboundSchema, () =>
    unkey.ratelimit.getOverride({ namespace, identifier: "ceo@acme.com" }),
  );
  checkEqual("getOverride: the pattern's", got.data.overrideId, set.data.overrideId);
  const applied = await ok("ratelimit.limit with an override", LIMIT, () =>
    unkey.ratelimit.limit({ namespace, identifier: "ceo@acme.com", limit: 1, duration: 1000 }),
  );
  checkEqual("limit: overrideId", applied.data.overrideId, set.data.overrideId);
  await ok("ratelimit.listOverrides", S.V2RatelimitListOverridesResponseBody$inboundSchema, () =>
    unkey.ratelimit.listOverrides({ namespace }),
  );
  await ok("ratelimit.deleteOverride", S.V2RatelimitDeleteOverrideResponseBody$inboundSchema, () =>
    unkey.ratelimit.deleteOverride({ namespace, identifier: "*@acme.com" }),
  );
  await rejects(
    "getOverride after deleteOverride",
    { ErrorClass: errors.NotFoundErrorResponse, status: 404, type: "unkey/data/ratelimit_override_not_found" },
    () => unkey.ratelimit.getOverride({ namespace, identifier: "ceo@acme.com" }),
  );

  const { data: limitedApi } = await ok("createApi (rate limits)", CREATE_API, () =>
    unkey.apis.createApi({ name: `sdk-limits-${RUN}` }),
  );
  const { data: limitedKey } = await ok("createKey with ratelimits", CREATE_KEY, () =>
    unkey.keys.createKey({
      apiId: limitedApi.apiId,
      credits: { remaining: 10 },
      ratelimits: [
        { name: "requests", limit: 1, duration: 60_000, autoApply: true },
        { name: "tokens", limit: 100, duration: 60_000, autoApply: false },
      ],
    }),
  );
  const stored = await getKey("with ratelimits", limitedKey.keyId);
  checkEqual("getKey: ratelimits", stored.ratelimits?.map((r) => r.name).sort(), ["requests", "tokens"]);
  const v = await verify("with a named limit and its cost", { key: limitedKey.key, ratelimits: [{ name: "tokens", cost: 30 }] }, "VALID");
  const byName = Object.fromEntries((v.ratelimits ?? []).map((r) => [r.name, r]));
  checkEqual("verifyKey: tokens remaining", byName.tokens?.remaining, 70);
  checkEqual("verifyKey: requests auto-applied", byName.requests?.autoApply, true);
  const limited = await verify("over an auto-applied limit", { key: limitedKey.key }, "RATE_LIMITED");
  checkEqual("RATE_LIMITED spends no credits", limited.credits, 9);
}

flow("done");
console.log(
  `SDK conformance OK: ${checksPassed} checks passed with @unkey/api ${SDK_VERSION} against ${BASE_URL} ` +
    `(${flowsDone.length} flows: ${flowsDone.join("; ")}).`,
);
