#!/usr/bin/env bash
# The online phase of this checkout against the whole inference of an earlier revision,
# side by side: builds REV's release binary in a worktree (target/against-REV), then runs
# `securenn bench network` of REV and `securenn bench network --phase online` of this
# checkout alternately, ROUNDS times (default 5) per NET:BATCH, and prints the medians
# and the median of the per-round ratios. FLAGS are passed to this checkout's bench (e.g.
# FLAGS=--draws for P0's and P1's offline draws).
#
#   FLAGS=--draws scripts/online-against.sh 8738853 A:1 A:128 C:1 C:128
#
# Issue 16's "before" is 8738853, the last commit before it. Run it on a quiet machine.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 REV NET:BATCH..." >&2; exit 2; }
repo="$(cd "$(dirname "$0")/.." && pwd)"
rev="$(git -C "$repo" rev-parse --short "$1")"; shift
rounds="${ROUNDS:-5}"
worktree="$repo/target/against-$rev"
if [ ! -x "$worktree/target/release/securenn" ]; then
    [ -d "$worktree" ] || git -C "$repo" worktree add --detach "$worktree" "$rev" >&2
    (cd "$worktree" && cargo build --release -q -p securenn-cli >&2)
fi
(cd "$repo" && cargo build --release -q -p securenn-cli >&2)
old="$worktree/target/release/securenn"
new="$repo/target/release/securenn"
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
for config in "$@"; do
    net="${config%:*}"; batch="${config#*:}"
    repeat=21; [ "$batch" -ge 128 ] && repeat=5
    before=(); online=(); whole=()
    for _ in $(seq "$rounds"); do
        before+=("$("$old" bench network "$net" --batch "$batch" --repeat "$repeat" --json | field 'd["seconds"]')")
        json="$("$new" bench network "$net" --batch "$batch" --repeat "$repeat" --phase online ${FLAGS:-} --json)"
        online+=("$(echo "$json" | field 'd["phases"]["online"]["seconds"]')")
        whole+=("$(echo "$json" | field 'd["phases"]["all"]["seconds"]')")
    done
    python3 - "$net" "$batch" "${before[*]}" "${whole[*]}" "${online[*]}" <<'PY'
import statistics, sys
net, batch = sys.argv[1], sys.argv[2]
before, whole, online = ([float(x) for x in arg.split()] for arg in sys.argv[3:6])
ratios = [o / b for b, o in zip(before, online)]
print(f"{net} batch {batch}: before {statistics.median(before) * 1e3:.1f} ms, "
      f"whole now {statistics.median(whole) * 1e3:.1f} ms, "
      f"online {statistics.median(online) * 1e3:.1f} ms; online / before "
      f"{statistics.median(ratios) * 100:.0f}% (rounds: "
      + " ".join(f"{r * 100:.0f}%" for r in ratios) + ")")
PY
done
