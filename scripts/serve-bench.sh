#!/usr/bin/env bash
# The server benchmarks of docs/BENCHMARKS.md ("Server"): the 370M preset (random weights, the
# Mistral tokenizer of ../shared), greedy, 64 tokens per request, at 1, 16 and 64 concurrent
# streams, REPS runs each (medians quoted in the docs); then the chaos run (1,000 requests with
# random parameters, a tenth abandoned mid-stream, RSS before and after).
#   scripts/serve-bench.sh [REPS]     (writes JSON lines to stdout)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-3}
MODEL=${MMFREE_BENCH_MODEL:-/tmp/mmfree-370M.gguf}
TOKENIZER=${MMFREE_BENCH_TOKENIZER:-../shared/tokenizers/mistral}
[ -f "$MODEL" ] || build/mmfree init --preset 370M --out "$MODEL" >&2
log=$(mktemp)
build/mmfree serve --model "$MODEL" --tokenizer "$TOKENIZER" --port 0 --parallel 64 --max-queue 64 2> "$log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$log"' EXIT
until grep -q "listening on" "$log"; do sleep 0.1; done
url="http://$(grep -o '127.0.0.1:[0-9]*' "$log")"
echo "{\"load_before\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"nproc\": $(nproc)}"
for rep in $(seq "$REPS"); do
  scripts/serve-load.py bench --url "$url" --streams 1 --requests 4 || true  # failures are in its JSON
  scripts/serve-load.py bench --url "$url" --streams 16 --requests 2 || true  # failures are in its JSON
  scripts/serve-load.py bench --url "$url" --streams 64 --requests 1 || true  # failures are in its JSON
done
scripts/serve-load.py chaos --url "$url" --requests 1000 --concurrency 24 --abandon 0.1 --pid "$pid" --rounds 2 || true
echo "{\"load_after\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
kill -TERM $pid
wait $pid
echo "{\"exit_after_sigterm\": $?}"
