# What the test suite needs beyond Rust, and how to tell whether it is here. Sourced by
# scripts/test.sh (which checks) and scripts/install-test-tools.sh (which installs).
#
# - script(1), from util-linux (Debian's bsdutils): gives the CLI's terminal tests a
#   pseudo-terminal (crates/keyward/tests/cli/tty.rs).
# - Node.js 20 or newer with npm: runs Unkey's TypeScript SDK against keyward
#   (crates/keyward-http/tests/sdk_conformance.rs; the SDK itself comes from the npm registry,
#   installed by the test from sdk-tests/package-lock.json).
# - python3 with its venv module: runs Unkey's Python SDK against keyward
#   (crates/keyward-http/tests/sdk_conformance_python.rs; the SDK comes from PyPI, installed by
#   the test into a virtualenv from sdk-tests/python/requirements.txt).

MIN_NODE_MAJOR=20

# The major version of `node` on PATH, or nothing.
node_major() {
  node --version 2>/dev/null | sed -nE 's/^v([0-9]+)\..*/\1/p'
}

has_script() {
  command -v script >/dev/null 2>&1
}

has_node() {
  local major
  major=$(node_major)
  [[ -n "$major" && "$major" -ge "$MIN_NODE_MAJOR" ]]
}

has_npm() {
  command -v npm >/dev/null 2>&1 && npm --version >/dev/null 2>&1
}

has_python_venv() {
  command -v python3 >/dev/null 2>&1 && python3 -c 'import ensurepip, venv' >/dev/null 2>&1
}
