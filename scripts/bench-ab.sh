#!/usr/bin/env bash
# Paired A/B speed comparison of two mmfree binaries on one model: runs `bench --json` alternately
# (A, B, A, B, ...) so that both see the same machine state, then prints the medians and the ratio.
#   scripts/bench-ab.sh OLD_BINARY NEW_BINARY MODEL [ROUNDS] [-- extra bench flags]
# Example (the figures of docs/BENCHMARKS.md): scripts/bench-ab.sh /tmp/old/mmfree build/mmfree 370m.gguf 7
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 OLD NEW MODEL [ROUNDS] [-- bench flags]" >&2; exit 2; }
A=$1 B=$2 MODEL=$3 ROUNDS=${4:-5}
shift $(( $# >= 4 ? 4 : 3 ))
[ "${1:-}" = "--" ] && shift
out=$(mktemp -d)
for r in $(seq "$ROUNDS"); do
  "$A" bench --model "$MODEL" --json "$@" > "$out/a$r.json"
  "$B" bench --model "$MODEL" --json "$@" > "$out/b$r.json"
done
python3 - "$out" "$ROUNDS" <<'PY'
import json, statistics, sys
d, n = sys.argv[1], int(sys.argv[2])
for key in ("prefill_tok_s", "decode_tok_s"):
    a = [json.load(open(f"{d}/a{r}.json"))[key] for r in range(1, n + 1)]
    b = [json.load(open(f"{d}/b{r}.json"))[key] for r in range(1, n + 1)]
    ratios = [y / x for x, y in zip(a, b) if x > 0]
    print(f"{key:14s} A median {statistics.median(a):9.2f}  B median {statistics.median(b):9.2f}  "
          f"B/A paired median {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f}, {n} pairs)")
PY
rm -rf "$out"
