#!/usr/bin/env bash
# The whole test suite (`cargo test --workspace`, arguments passed on). First checks the tools
# the tests need beyond Rust and stops at once, naming what is missing and how to get it, rather
# than failing minutes into the run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test-tools.sh

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

if ((${#missing[@]} > 0)); then
  echo "The test suite cannot run; missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  echo "On Debian or Ubuntu, 'scripts/install-test-tools.sh' (as root, or with sudo) installs them." >&2
  exit 1
fi

exec cargo test --workspace "$@"
