#!/usr/bin/env bash
# Paired A/B speed comparison of two mmfree binaries: runs the benchmark alternately (A, B, A, B,
# ...) so that both see the same machine state, then prints the medians and the paired ratio.
#   scripts/bench-ab.sh OLD_BINARY NEW_BINARY MODEL [ROUNDS] [-- extra bench flags]
#     decode and prefill of MODEL (`bench --json`)
#   scripts/bench-ab.sh OLD_BINARY NEW_BINARY --train [ROUNDS] [-- extra bench-train flags]
#     training throughput (`bench-train --json --skip-peak`)
# Example (the figures of docs/BENCHMARKS.md): scripts/bench-ab.sh /tmp/old/mmfree build/mmfree 370m.gguf 7
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 OLD NEW MODEL|--train [ROUNDS] [-- flags]" >&2; exit 2; }
A=$1 B=$2 MODEL=$3 ROUNDS=${4:-5}
shift $(( $# >= 4 ? 4 : 3 ))
[ "${1:-}" = "--" ] && shift
if [ "$MODEL" = "--train" ]; then
  run() { "$1" bench-train --json --skip-peak "${@:2}"; }
  keys="tokens_per_s"
else
  run() { "$1" bench --model "$MODEL" --json "${@:2}"; }
  keys="prefill_tok_s decode_tok_s"
fi
out=$(mktemp -d)
for r in $(seq "$ROUNDS"); do
  run "$A" "$@" > "$out/a$r.json"
  run "$B" "$@" > "$out/b$r.json"
done
python3 - "$out" "$ROUNDS" $keys <<'PY'
import json, statistics, sys
d, n = sys.argv[1], int(sys.argv[2])
for key in sys.argv[3:]:
    a = [json.load(open(f"{d}/a{r}.json"))[key] for r in range(1, n + 1)]
    b = [json.load(open(f"{d}/b{r}.json"))[key] for r in range(1, n + 1)]
    ratios = [y / x for x, y in zip(a, b) if x > 0]
    print(f"{key:14s} A median {statistics.median(a):9.2f}  B median {statistics.median(b):9.2f}  "
          f"B/A paired median {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f}, {n} pairs)")
PY
rm -rf "$out"
