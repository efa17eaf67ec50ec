#!/usr/bin/env bash
# The figures of docs/BENCHMARKS.md ("Model decode/prefill", "Kernels"): random-weight models of the
# paper's three sizes (mmfree init, default tq2_0_r8 layout) and the 4096 x 14336 kernel, each run
# REPS times (JSON lines on stdout; quote medians: the machine may be shared).
#   scripts/bench-presets.sh [DIR] [REPS]     DIR holds the model files (default /tmp/mmfree-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/mmfree-bench}
REPS=${2:-3}
M=build/mmfree
mkdir -p "$DIR"
for p in 370M 1.3B 2.7B; do
  [ -f "$DIR/$p.gguf" ] || $M init --preset "$p" --out "$DIR/$p.gguf" >&2
done
for r in $(seq "$REPS"); do
  for p in 370M 1.3B 2.7B; do
    $M bench --model "$DIR/$p.gguf" --threads 2 -p 512 -n 128 --json | tr -d '\n '; echo
  done
  for n in 1 512; do
    $M bench-kernel --m 4096 --k 14336 --n "$n" --threads 2 --json | tr -d '\n '; echo
  done
done
