#!/usr/bin/env bash
# Makes a PostgreSQL server answer for the tests, on Debian or Ubuntu (as root, or through
# sudo): installs Debian's postgresql package where no server is installed, starts its cluster
# where it is stopped (creating one where there is none), and, where the default URL cannot
# connect (a fresh install allows only password logins over TCP), creates a role of its own that
# may create databases. Prints the URL for KEYWARD_TEST_POSTGRES_URL on stdout; says on stderr
# what it did, or what is missing, and fails at once when it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test-tools.sh

as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "start-postgres: run as root (or install sudo) to run: $*" >&2
    exit 1
  fi
}

say() { echo "start-postgres: $*" >&2; }

if [[ -n "${KEYWARD_TEST_POSTGRES_URL:-}" ]] && postgres_answers; then
  say "PostgreSQL answers at $(postgres_url)"
  postgres_url
  exit 0
fi

if ! has_pg_server || ! has_psql || ! command -v pg_ctlcluster >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    say "PostgreSQL is not installed (server programs: ${KEYWARD_TEST_PG_BIN:-/usr/lib/postgresql/<version>/bin}, psql) and there is no apt-get here: install PostgreSQL 13 or newer, start it, and set KEYWARD_TEST_POSTGRES_URL to a user that may create databases"
    exit 1
  fi
  say "installing PostgreSQL with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  hash -r
fi

# Debian's cluster of the newest installed version (KEYWARD_TEST_PG_CLUSTER names another).
version=$(basename "$(dirname "$(pg_server_bin)")")
cluster=${KEYWARD_TEST_PG_CLUSTER:-main}
cluster_field() {
  pg_lsclusters -h 2>/dev/null | awk -v v="$version" -v c="$cluster" -v f="$1" '$1 == v && $2 == c {print $f}'
}
if [[ -z "$(cluster_field 2)" ]]; then
  say "creating the cluster $version/$cluster"
  as_root pg_createcluster "$version" "$cluster" >/dev/null
fi
port=$(cluster_field 3)
if [[ "$(cluster_field 4)" != online ]]; then
  say "starting the cluster $version/$cluster (port $port)"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start
fi
for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 0.5
done
if ! pg_isready -q -h 127.0.0.1 -p "$port"; then
  say "the cluster $version/$cluster does not accept connections on 127.0.0.1:$port; its log: /var/log/postgresql/postgresql-$version-$cluster.log"
  exit 1
fi

if [[ -z "${KEYWARD_TEST_POSTGRES_URL:-}" ]]; then
  KEYWARD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres
  if ! postgres_answers; then
    # A fresh install refuses postgres over TCP without a password: a role of the tests' own.
    say "using the role keyward_test (login, createdb), created where missing"
    as_root runuser -u postgres -- psql -p "$port" -qc "do \$\$ begin
      if not exists (select from pg_roles where rolname = 'keyward_test') then
        create role keyward_test login createdb password 'keyward_test';
      end if; end \$\$"
    KEYWARD_TEST_POSTGRES_URL=postgres://keyward_test:keyward_test@127.0.0.1:$port/postgres
  fi
fi
export KEYWARD_TEST_POSTGRES_URL
if ! postgres_answers; then
  say "PostgreSQL runs, but $(postgres_url) cannot connect or may not create databases"
  exit 1
fi
say "PostgreSQL answers at $(postgres_url)"
postgres_url
