"""The figures of docs/RELIABILITY.md's abuse and timing sections, against a running keyward
(scripts/hardening.sh starts one and calls this). Standard library only; loopback only.

    python3 scripts/hardening.py all <url> <root key> <pid>
"""

import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse


def rss_kib(pid):
    """(VmRSS, VmHWM) of the server process, in KiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


class Client:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, url, root_key):
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.root_key = root_key
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def post(self, operation, body, bearer=None, raw=None, content_type="application/json"):
        headers = {"Authorization": f"Bearer {bearer or self.root_key}", "Content-Type": content_type}
        data = raw if raw is not None else json.dumps(body).encode()
        try:
            self.conn.request("POST", f"/v2/{operation}", body=data, headers=headers)
            response = self.conn.getresponse()
            payload = response.read()
        except (ConnectionError, http.client.HTTPException, socket.timeout):
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            raise
        if response.getheader("connection", "").lower() == "close":
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = None
        return response.status, parsed

    def data(self, operation, body, bearer=None):
        status, parsed = self.post(operation, body, bearer)
        assert status == 200, (operation, status, parsed)
        return parsed["data"]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def latency_line(name, samples_us):
    return (f"| {name} | {len(samples_us):,} | {percentile(samples_us, 50):.0f} | "
            f"{percentile(samples_us, 99):.0f} | {max(samples_us):.0f} |")


def setup(url, root_key):
    c = Client(url, root_key)
    api = c.data("apis.createApi", {"name": "hardening"})["apiId"]
    other_api = c.data("apis.createApi", {"name": "hardening-other"})["apiId"]
    valid = c.data("keys.createKey", {"apiId": api})["key"]
    deleted = c.data("keys.createKey", {"apiId": api})
    c.data("keys.deleteKey", {"keyId": deleted["keyId"]})
    # Hidden by permission: a root key that may verify only `api`'s keys, given a key of another.
    hidden_permission = c.data("keys.createKey", {"apiId": other_api})["key"]
    limited_root = c.data("rootKeys.createRootKey", {"permissions": [f"api.{api}.verify_key"]})["key"]
    # Hidden by workspace: a key of another workspace.
    other_ws_root = c.data("workspaces.createWorkspace", {"name": "hardening-ws"})["rootKey"]["key"]
    foreign_api = c.data("apis.createApi", {"name": "foreign"}, bearer=other_ws_root)["apiId"]
    hidden_workspace = c.data("keys.createKey", {"apiId": foreign_api}, bearer=other_ws_root)["key"]
    return {
        "api": api, "valid": valid, "deleted": deleted["key"],
        "hidden_permission": hidden_permission, "limited_root": limited_root,
        "hidden_workspace": hidden_workspace,
    }


def timing(url, root_key, fixtures, per_class):
    """verifyKey latency for each not-found class, interleaved in random order on one
    connection, so drift hits every class alike. Every answer must be the same NOT_FOUND."""
    c = Client(url, root_key)
    classes = {
        "unknown key (a new one each time)": lambda i: (f"sk_unknown_{i}_{random.getrandbits(64):x}", None),
        "unknown key (the same, repeated)": lambda i: ("sk_unknown_repeated_key_0123456789", None),
        "deleted key": lambda i: (fixtures["deleted"], None),
        "key of another workspace": lambda i: (fixtures["hidden_workspace"], None),
        "key the root key may not verify": lambda i: (fixtures["hidden_permission"], fixtures["limited_root"]),
        "(valid key, for comparison)": lambda i: (fixtures["valid"], None),
    }
    order = [name for name in classes for _ in range(per_class)]
    random.shuffle(order)
    # Warm-up: every class once, so the first load of each from the database is not measured.
    for name, make in classes.items():
        c.post("keys.verifyKey", {"key": make(0)[0]}, bearer=make(0)[1])
    samples = {name: [] for name in classes}
    bodies = {name: set() for name in classes}
    for i, name in enumerate(order):
        key, bearer = classes[name](i)
        started = time.perf_counter()
        status, body = c.post("keys.verifyKey", {"key": key}, bearer=bearer)
        samples[name].append((time.perf_counter() - started) * 1e6)
        bodies[name].add((status, json.dumps(body["data"], sort_keys=True)))
    print("\n### verifyKey answers and latency by class (one keep-alive connection, interleaved)\n")
    print("| class | requests | p50 µs | p99 µs | max µs |\n|---|---:|---:|---:|---:|")
    for name in classes:
        print(latency_line(name, samples[name]))
    print()
    for name, seen in bodies.items():
        print(f"- {name}: {sorted(seen)}")
    not_found = {json.dumps({"valid": False, "code": "NOT_FOUND"}, sort_keys=True)}
    for name, seen in bodies.items():
        if not name.startswith("("):
            assert {body for _, body in seen} == not_found and {s for s, _ in seen} == {200}, (name, seen)
    return samples


def measure(url, root_key, key, seconds):
    """Verify latency of one well-behaved client for `seconds` (run as a separate process, so the
    abuse generator's interpreter does not slow it down)."""
    c = Client(url, root_key)
    samples, errors = [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        try:
            status, body = c.post("keys.verifyKey", {"key": key})
            ok = status == 200 and body["data"]["code"] == "VALID"
        except Exception:
            ok = False
        samples.append((time.perf_counter() - started) * 1e6)
        errors += not ok
    print(json.dumps({"samples": samples, "errors": errors}))


def start_measuring(url, root_key, key, seconds):
    return subprocess.Popen(
        [sys.executable, __file__, "measure", url, root_key, key, str(seconds)],
        stdout=subprocess.PIPE)


def finish_measuring(process):
    out, _ = process.communicate()
    result = json.loads(out)
    return result["samples"], result["errors"]


def raw_request(host, port, data, timeout=30):
    """Sends `data` on a new connection; the status line's code, or None if closed unanswered."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered (413) and closed before the whole body was sent: read the answer
        reply = b""
        while b"\r\n" not in reply:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            reply += chunk
        return int(reply.split(b" ")[1]) if reply.startswith(b"HTTP/1.1 ") else None
    finally:
        s.close()


def request_bytes(host, port, root_key, body, content_type="application/json"):
    return (f"POST /v2/keys.verifyKey HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {root_key}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def abuse(url, root_key, pid, fixtures, connections, flood, header_timeout):
    parsed = urllib.parse.urlparse(url)
    host, port = parsed.hostname, parsed.port
    rows = []

    def row(case, result, rss_before, extra=""):
        rss, hwm = rss_kib(pid)
        rows.append(f"| {case} | {result} | {rss_before // 1024} → {rss // 1024} MiB (peak {hwm // 1024}) | {extra} |")

    baseline_proc = start_measuring(url, root_key, fixtures["valid"], 5)
    baseline, baseline_errors = finish_measuring(baseline_proc)
    print("\n### A well-behaved client's verifyKey latency (its own process, one connection)\n")
    print("| while | requests | p50 µs | p99 µs | max µs | errors |\n|---|---:|---:|---:|---:|---:|")
    latency_rows = [latency_line("nothing else (baseline, 5 s)", baseline) + f" {baseline_errors} |"]

    # Bodies over the 2 MiB limit, deeply nested JSON, invalid UTF-8.
    rss_before = rss_kib(pid)[0]
    statuses = [raw_request(host, port, request_bytes(host, port, root_key, b'{"key":"' + b"x" * (3 << 20) + b'"}'))
                for _ in range(20)]
    row("20 bodies of 3 MiB (limit 2 MiB)", f"statuses {sorted(set(statuses))}", rss_before)
    assert set(statuses) <= {413, None}, statuses
    rss_before = rss_kib(pid)[0]
    # Within the size limit: arrays to depth 10^6 (2 MB), objects to 2.5 × 10^5 (1.75 MB).
    for depth in (1_000, 100_000, 1_000_000):
        nested = b"[" * depth + b"]" * depth
        status = raw_request(host, port, request_bytes(host, port, root_key, nested))
        assert status == 400, (depth, status)
    for depth in (1_000, 100_000, 250_000):
        nested = b'{"key":' * depth + b'"x"' + b"}" * depth
        status = raw_request(host, port, request_bytes(host, port, root_key, nested))
        assert status == 400, (depth, status)
    row("nested JSON: arrays to depth 10^6, objects to 2.5 × 10^5", "400 each", rss_before)
    rss_before = rss_kib(pid)[0]
    bad = [b'{"key":"\xff\xfe"}', b'{"key":"sk_\xc3\x28"}', b'\xef\xbb\xbf{"key":"x"}', b'{"k\x80ey":"x"}']
    statuses = [raw_request(host, port, request_bytes(host, port, root_key, b)) for b in bad]
    assert set(statuses) == {400}, statuses
    row("invalid UTF-8 in bodies (4 kinds)", "400 each", rss_before)

    # Idle connections: opened, never sending a byte; each one's close by the server is seen
    # through epoll as it happens, while a well-behaved client (its own process) measures.
    import selectors
    rss_before = rss_kib(pid)[0]
    measuring = start_measuring(url, root_key, fixtures["valid"], 5)
    time.sleep(0.5)  # its connection is up before the idle ones arrive
    selector = selectors.DefaultSelector()
    opened = {}
    held_rss = 0
    closed_after = []

    def reap(timeout):
        for key, _ in selector.select(timeout=timeout):
            s = key.fileobj
            try:
                data = s.recv(1)
            except (ConnectionError, OSError):
                data = b""
            if data == b"":
                closed_after.append(time.monotonic() - opened.pop(s))
                selector.unregister(s)
                s.close()

    opening_started = time.monotonic()
    for n in range(connections):
        s = socket.socket()
        s.connect((host, port))
        s.setblocking(False)
        opened[s] = time.monotonic()
        selector.register(s, selectors.EVENT_READ)
        if n % 100 == 0:
            reap(0)  # closes are seen as they happen, even while still opening
            held_rss = max(held_rss, rss_kib(pid)[0])
    opening = time.monotonic() - opening_started
    deadline = time.monotonic() + header_timeout + 30
    while opened and time.monotonic() < deadline:
        held_rss = max(held_rss, rss_kib(pid)[0])
        reap(0.2)
    for s in opened:
        s.close()
    during, errors = finish_measuring(measuring)
    latency_rows.append(latency_line(f"{connections:,} idle connections being opened and held", during) + f" {errors} |")
    row(f"{connections:,} idle connections", f"{len(closed_after):,} closed by the server, each "
        f"{min(closed_after):.1f}–{max(closed_after):.1f} s after it opened, p50 {percentile(closed_after, 50):.1f} s, "
        f"p99 {percentile(closed_after, 99):.1f} s (header timeout {header_timeout} s)"
        if closed_after else "none closed", rss_before,
        f"opened in {opening:.1f} s; RSS while held: up to {held_rss // 1024} MiB")
    assert len(closed_after) == connections, (len(closed_after), connections)

    # Slow-drip clients: one byte of a request head per second, never finishing it.
    rss_before = rss_kib(pid)[0]
    drip = []
    for _ in range(200):
        s = socket.create_connection((host, port))
        s.setblocking(False)
        drip.append(s)
    head = request_bytes(host, port, root_key, b'{"key":"x"}')
    started = time.monotonic()
    closed = {}
    i = 0
    while len(closed) < len(drip) and time.monotonic() - started < header_timeout + 20:
        for n, s in enumerate(drip):
            if n in closed:
                continue
            try:
                s.send(head[i:i + 1])
                if s.recv(1) == b"":
                    closed[n] = time.monotonic() - started
            except BlockingIOError:
                pass
            except (ConnectionError, OSError):
                closed[n] = time.monotonic() - started
        i = (i + 1) % (len(head) - 4)
        time.sleep(1)
    for s in drip:
        s.close()
    row("200 slow-drip clients (1 byte of the head per second)",
        f"{len(closed)} closed after {min(closed.values()):.0f}–{max(closed.values()):.0f} s" if closed else "none closed",
        rss_before)
    assert len(closed) == len(drip), len(closed)

    # A flood of unknown keys: verified, and as bearer tokens.
    rss_before = rss_kib(pid)[0]
    measuring = start_measuring(url, root_key, fixtures["valid"], 8)
    c = Client(url, root_key)
    codes = {}
    started = time.monotonic()
    for i in range(flood):
        unknown = f"sk_flood_{i}_{random.getrandbits(64):x}"
        if i % 2:
            status, body = c.post("keys.verifyKey", {"key": unknown})
            code = (status, body["data"]["code"])
        else:
            status, body = c.post("keys.verifyKey", {"key": fixtures["valid"]}, bearer=unknown)
            code = (status, body["error"]["type"].rsplit("/", 1)[-1])
        codes[code] = codes.get(code, 0) + 1
    took = time.monotonic() - started
    during, errors = finish_measuring(measuring)
    latency_rows.append(latency_line(f"a flood of {flood:,} unknown keys and bearer tokens", during) + f" {errors} |")
    row(f"{flood:,} distinct unknown keys (half verified, half as bearer tokens)",
        ", ".join(f"{n:,} × {s} {c}" for (s, c), n in sorted(codes.items())) + f" in {took:.1f} s", rss_before)
    assert set(codes) == {(200, "NOT_FOUND"), (401, "key_not_found")}, codes

    print("\n".join(latency_rows))
    print("\n### Abuse: answers and the server's resident memory (/proc/<pid>/status)\n")
    print("| case | answers | RSS before → after | notes |\n|---|---|---|---|")
    print("\n".join(rows))


def main():
    command = sys.argv[1]
    if command == "measure":
        url, root_key, key, seconds = sys.argv[2:6]
        measure(url, root_key, key, float(seconds))
        return
    url, root_key, pid = sys.argv[2], sys.argv[3], int(sys.argv[4])
    fixtures = setup(url, root_key)
    print(f"server pid {pid}, RSS at start {rss_kib(pid)[0] // 1024} MiB")
    if command in ("all", "timing"):
        timing(url, root_key, fixtures, int(os.environ.get("HARDENING_TIMING_REQUESTS", "5000")))
    if command in ("all", "abuse"):
        abuse(url, root_key, pid, fixtures,
              connections=int(os.environ.get("HARDENING_CONNECTIONS", "10000")),
              flood=int(os.environ.get("HARDENING_FLOOD", "50000")),
              header_timeout=int(os.environ.get("KEYWARD_HEADER_TIMEOUT_SECS", "10")))


if __name__ == "__main__":
    main()
