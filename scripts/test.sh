#!/usr/bin/env bash
# The whole test suite (`cargo test --workspace`, arguments passed on), once per backend: on
# SQLite, then on PostgreSQL (KEYWARD_TEST_DATABASE=postgres; KEYWARD_TEST_BACKENDS="sqlite" or
# "postgres" runs one). First checks the tools the tests need beyond Rust and stops at once,
# naming what is missing and how to get it, rather than failing minutes into the run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test-tools.sh

backends=${KEYWARD_TEST_BACKENDS:-sqlite postgres}

missing=()
command -v cargo >/dev/null 2>&1 ||
  missing+=("cargo: install Rust with rustup (https://rustup.rs)")
has_script ||
  missing+=("script(1), for the CLI's terminal tests: util-linux's script (Debian and Ubuntu: package bsdutils)")
if ! has_node; then
  found=$(node --version 2>/dev/null || echo "none")
  missing+=("Node.js $MIN_NODE_MAJOR or newer (found: $found), for Unkey's SDK conformance test: https://nodejs.org/en/download, or your distribution's nodejs package")
fi
has_npm ||
  missing+=("npm, for the SDK conformance test: it comes with Node.js (Debian and Ubuntu: package npm)")
has_python_venv ||
  missing+=("python3 with its venv module, for Unkey's Python SDK conformance test (Debian and Ubuntu: packages python3 and python3-venv)")
# Tests of `db copy` and of PostgreSQL outages need PostgreSQL whichever backend runs.
has_pg_server ||
  missing+=("PostgreSQL's server programs initdb and pg_ctl, for the tests that stop and start a server of their own: Debian and Ubuntu: package postgresql (or set KEYWARD_TEST_PG_BIN to their directory)")
if ! has_psql; then
  missing+=("psql, to check the PostgreSQL server the tests use: Debian and Ubuntu: package postgresql-client")
elif ! postgres_answers; then
  missing+=("a PostgreSQL server at $(postgres_url) whose user may create databases (set KEYWARD_TEST_POSTGRES_URL to use another): start it (Debian: pg_ctlcluster <version> main start)")
fi

if ((${#missing[@]} > 0)); then
  echo "The test suite cannot run; missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  echo "On Debian or Ubuntu, as root (or with sudo): 'scripts/install-test-tools.sh' installs the tools;" \
    "'scripts/start-postgres.sh' installs and starts PostgreSQL and prints the URL for KEYWARD_TEST_POSTGRES_URL." >&2
  exit 1
fi

# Each test process creates one database, kwtest_<pid>, for its tests' schemas; Rust runs no
# destructor at exit, so they are dropped here once their process is gone (and by the next run's
# first test otherwise).
drop_finished_test_databases() {
  local name
  psql "$(postgres_url)" -Atqc "select datname from pg_database where datname ~ '^kwtest_[0-9]+$'" |
    while read -r name; do
      [[ -d "/proc/${name#kwtest_}" ]] ||
        psql "$(postgres_url)" -qc "drop database if exists \"$name\" with (force)" || true
    done
}
trap drop_finished_test_databases EXIT

for backend in $backends; do
  case "$backend" in
    sqlite | postgres) ;;
    *)
      echo "KEYWARD_TEST_BACKENDS: unknown backend '$backend' (sqlite, postgres)" >&2
      exit 2
      ;;
  esac
  echo "== the test suite on $backend (KEYWARD_TEST_DATABASE=$backend)"
  KEYWARD_TEST_DATABASE=$backend cargo test --workspace "$@"
done
