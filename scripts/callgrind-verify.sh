#!/usr/bin/env bash
# Instructions per keys.verifyKey, counted by callgrind: deterministic where wall-clock figures
# are not (a shared machine). Runs keyward-bench with keyward under valgrind, zeroes the counters
# 1.5 s into keyward's closed loop, dumps them 3 s later, and prints instructions per
# verification (verifications = half the calls of KeyHash::of: the root key's and the key's).
#
#   scripts/callgrind-verify.sh [path/to/keyward]      # default: target/release/keyward
#   CALLGRIND_PHASE=rbac scripts/callgrind-verify.sh   # keys with 3 roles, a 3-term query
#
# CALLGRIND_PHASE=rbac counts the phase that follows keyward's plain closed loop in round 1: the
# keys holding 3 roles (10 permissions), each verification asking a 3-term permission query.
#
# Needs valgrind and a release build of keyward-bench (cargo build --release -p keyward-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-target/release/keyward}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/bench.log
out=$work/keyward.callgrind
target/release/keyward-bench --no-build --keyward-bin "$binary" --keys 500 --rounds 1 \
  --duration 6 --warmup 1 --connections 8 \
  --keyward-wrapper "valgrind --tool=callgrind --callgrind-out-file=$out" >"$log" 2>&1 &
bench=$!
case "${CALLGRIND_PHASE:-plain}" in
  plain) before="baseline closed loop:" ;;
  rbac) before="keyward closed loop:" ;;
  *) echo "CALLGRIND_PHASE is plain or rbac" >&2; exit 2 ;;
esac
until grep -q "$before" "$log"; do
  kill -0 "$bench" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.2
done
pid=$(grep -m1 -oE "keyward \(pid [0-9]+\)" "$log" | grep -oE "[0-9]+")
sleep 1.5
callgrind_control -z "$pid" >/dev/null
sleep 3
callgrind_control -d "$pid" >/dev/null
wait "$bench" || true
dump=$out.1
total=$(callgrind_annotate "$dump" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
sha=$(callgrind_annotate --inclusive=yes "$dump" | awk '!found && /KeyHash::of/ {gsub(",", "", $1); print $1; found = 1}')
id=$(grep -m1 -oE "fn=\([0-9]+\) [a-z_:]*KeyHash::of" "$dump" | grep -oE "\([0-9]+\)")
calls=$(grep -A1 -F "cfn=$id" "$dump" | awk -F'[= ]' '/^calls=/ {s += $2} END {print s}')
verifications=$((calls / 2))
echo "verifications in the window: $verifications"
echo "instructions per verification: $((total / verifications))"
echo "without the software SHA-256: $(((total - sha) / verifications))"
