#!/usr/bin/env bash
# The state-fork saving of docs/EVAL.md: HellaSwag items/s with each context read once and its
# state forked per choice, against every context + choice read whole from a zero state (the same
# engine, --from-scratch, which batches and skips unneeded logits just as the forked reading does).
# Paired runs, fork then scratch, REPS times (a shared machine drifts; each pair sees about the
# same load); prints each pair's items/s by wall time and by CPU time (user + sys: the work, less
# sensitive to other jobs on the machine), their ratios and the median ratios.
#   scripts/bench-eval.sh [MODEL] [ITEMS] [REPS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/default.gguf}
ITEMS=${2:-300}
REPS=${3:-3}
THREADS=${4:-2}
# Prints: items/s (wall), items per CPU-second, tokens read.
rate() {
  local cpu
  cpu=$(mktemp)
  /usr/bin/time -f "%U %S" -o "$cpu" build/mmfree eval --model "$MODEL" --task hellaswag --limit "$ITEMS" \
    --threads "$THREADS" --json "$@" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["results"]["hellaswag"]; u,s=map(float,open(sys.argv[1]).read().split()); print(r["items_per_second"], r["items"]/(u+s), r["tokens_read"])' "$cpu"
  rm -f "$cpu"
}
walls=() cpus=()
for r in $(seq "$REPS"); do
  read -r fork fork_cpu fork_tokens < <(rate)
  read -r scratch scratch_cpu scratch_tokens < <(rate --from-scratch)
  wall=$(python3 -c "print(f'{$fork / $scratch:.2f}')")
  cpu=$(python3 -c "print(f'{$fork_cpu / $scratch_cpu:.2f}')")
  walls+=("$wall")
  cpus+=("$cpu")
  printf 'pair %s: fork %.2f items/s, %.2f items/CPU-s (%s tokens read); scratch %.2f items/s, %.2f items/CPU-s (%s tokens); ratio %s wall, %s CPU\n' \
    "$r" "$fork" "$fork_cpu" "$fork_tokens" "$scratch" "$scratch_cpu" "$scratch_tokens" "$wall" "$cpu"
done
python3 -c "import statistics,sys; n=len(sys.argv)//2; print('median ratio', statistics.median(map(float, sys.argv[1:n+1])), 'wall,', statistics.median(map(float, sys.argv[n+1:])), 'CPU')" "${walls[@]}" "${cpus[@]}"
