#!/usr/bin/env bash
# A bounded smoke run of every fuzz target (fuzz/, cargo-fuzz on nightly): each target for
# FUZZ_SECONDS (30) from its committed seed corpus (fuzz/corpus/<target>/), with libFuzzer's
# memory and time limits, so that a crash, a hang (one input over 5 s) or an unbounded
# allocation (over 1 GiB resident, or one allocation over 256 MiB) fails the run.
#
#   scripts/fuzz.sh                         # every target, 30 s each (what .ci/run runs)
#   FUZZ_SECONDS=600 scripts/fuzz.sh keys   # one target, longer
#
# Installs the nightly toolchain (minimal profile) and cargo-fuzz where missing. New inputs the
# run finds go to a temporary directory, not into the committed corpus; a failing input is kept
# under fuzz/artifacts/<target>/ and the run fails naming it.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${FUZZ_SECONDS:-30}
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "== installing the nightly toolchain (cargo-fuzz needs it for the sanitizers)"
  rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

started=$(date +%s)
echo "== building the fuzz targets (nightly, address sanitizer)"
cargo +nightly fuzz build -O
echo "   built in $(( $(date +%s) - started )) s"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in "${targets[@]}"; do
  echo "== fuzzing $target for $seconds s"
  mkdir -p "$work/$target"
  status=0
  cargo +nightly fuzz run -O "$target" "$work/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 -malloc_limit_mb=256 \
    -print_final_stats=1 >"$work/$target.log" 2>&1 || status=$?
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)" "$work/$target.log" || true
  if [ "$status" -ne 0 ]; then
    tail -60 "$work/$target.log" >&2
    echo "fuzz target $target failed (exit $status); the input is under fuzz/artifacts/$target/" >&2
    exit "$status"
  fi
done
echo "== fuzzing done in $(( $(date +%s) - started )) s"
