#!/usr/bin/env bash
# Installs, on Debian or Ubuntu, what the test suite needs beyond Rust (scripts/test-tools.sh
# says what and why) — only what is missing: on a machine that has it all this changes nothing.
# Runs as root, or through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test-tools.sh

as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "install-test-tools: run as root (or install sudo) to install: $*" >&2
    exit 1
  fi
}

packages=()
has_script || packages+=(bsdutils)
has_node || packages+=(nodejs)
has_npm || packages+=(npm)
has_python_venv || packages+=(python3 python3-venv)
if ((${#packages[@]} == 0)); then
  echo "test tools: script, Node.js $(node --version), npm $(npm --version) and python3 with venv are installed"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-tools: no apt-get here; install these yourself: ${packages[*]}" \
    "(Node.js $MIN_NODE_MAJOR+ with npm: https://nodejs.org/en/download)" >&2
  exit 1
fi
echo "test tools: installing ${packages[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
as_root apt-get install -y -qq --no-install-recommends "${packages[@]}"
hash -r

# Some distributions' Node.js is older than the SDK needs (Debian 12 ships 18). The npm registry
# has Node.js builds as packages (node-linux-<arch>); its binary goes first on PATH, in
# /usr/local/bin, and the distribution's npm runs on it.
if ! has_node; then
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) arch= ;;
  esac
  if [[ -z "$arch" ]] || ! has_npm; then
    echo "install-test-tools: Node.js $(node --version 2>/dev/null || echo '(none)') is older than" \
      "$MIN_NODE_MAJOR; install Node.js $MIN_NODE_MAJOR+ from https://nodejs.org/en/download" >&2
    exit 1
  fi
  echo "test tools: Node.js $(node --version) is older than $MIN_NODE_MAJOR; installing" \
    "node-linux-$arch@$MIN_NODE_MAJOR from the npm registry"
  as_root npm install --global --no-audit --no-fund "node-linux-$arch@$MIN_NODE_MAJOR"
  hash -r
fi

for check in has_script has_node has_npm has_python_venv; do
  if ! "$check"; then
    echo "install-test-tools: still missing after installing (${check#has_}); see scripts/test-tools.sh" >&2
    exit 1
  fi
done
echo "test tools: script, Node.js $(node --version), npm $(npm --version) and python3 with venv are ready"
