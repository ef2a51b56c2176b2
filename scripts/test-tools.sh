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

# - PostgreSQL: every suite runs a second time on it (KEYWARD_TEST_DATABASE=postgres), each test
#   in a throwaway database on the server KEYWARD_TEST_POSTGRES_URL names (its user must be
#   allowed to create databases); psql checks that it answers. The outage tests also start
#   private servers of their own, with the server programs initdb and pg_ctl (Debian: package
#   postgresql; found under /usr/lib/postgresql/<version>/bin, or KEYWARD_TEST_PG_BIN).

DEFAULT_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres

postgres_url() {
  echo "${KEYWARD_TEST_POSTGRES_URL:-$DEFAULT_POSTGRES_URL}"
}

has_psql() {
  command -v psql >/dev/null 2>&1
}

# The directory of initdb and pg_ctl, or nothing.
pg_server_bin() {
  local dir
  if [[ -n "${KEYWARD_TEST_PG_BIN:-}" ]]; then
    [[ -x "$KEYWARD_TEST_PG_BIN/pg_ctl" ]] && echo "$KEYWARD_TEST_PG_BIN"
    return 0
  fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x "$dir/pg_ctl" && -x "$dir/initdb" ]]; then
      echo "$dir"
      return 0
    fi
  done
  dir=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")
  [[ -x "$dir/pg_ctl" && -x "$dir/initdb" ]] && echo "$dir"
  return 0
}

has_pg_server() {
  [[ -n "$(pg_server_bin)" ]]
}

# Whether the server of `postgres_url` answers, and lets its user create databases.
postgres_answers() {
  has_psql &&
    [[ "$(psql "$(postgres_url)" -Atqc 'select rolcreatedb or rolsuper from pg_roles where rolname = current_user' 2>/dev/null)" == t ]]
}
