#!/usr/bin/env bash
# The state-fork saving of docs/EVAL.md: HellaSwag items/s with each context read once and its
# state forked per choice, against every context + choice read whole from a zero state (the same
# engine, --from-scratch). Paired runs, fork then scratch, REPS times (a shared machine drifts;
# each pair sees about the same load); prints each pair's items/s, their ratio and the median ratio.
#   scripts/bench-eval.sh [MODEL] [ITEMS] [REPS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/default.gguf}
ITEMS=${2:-300}
REPS=${3:-3}
THREADS=${4:-2}
rate() {
  build/mmfree eval --model "$MODEL" --task hellaswag --limit "$ITEMS" --threads "$THREADS" --json "$@" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["results"]["hellaswag"]; print(r["items_per_second"], r["tokens_read"])'
}
ratios=()
for r in $(seq "$REPS"); do
  read -r fork fork_tokens < <(rate)
  read -r scratch scratch_tokens < <(rate --from-scratch)
  ratio=$(python3 -c "print(f'{$fork / $scratch:.2f}')")
  ratios+=("$ratio")
  echo "pair $r: fork $fork items/s ($fork_tokens tokens read), scratch $scratch items/s ($scratch_tokens tokens), ratio $ratio"
done
python3 -c "import statistics,sys; print('median ratio', statistics.median(float(x) for x in sys.argv[1:]))" "${ratios[@]}"
