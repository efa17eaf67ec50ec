#!/usr/bin/env bash
# Runs every libFuzzer target (tests/fuzz/fuzz_*.cpp) at once for SECONDS each (default 60), from
# the seed corpus in tests/fuzz/corpus/<target>/, under nice -n 19. Builds build-fuzz with clang,
# ASan and UBSan first. New inputs and any crash go to build-fuzz/out/<target>/; the summary
# (execs, coverage, crashes) is printed at the end and kept in build-fuzz/out/summary.txt.
#   scripts/fuzz.sh [SECONDS] [TARGET...]     e.g. scripts/fuzz.sh 1800   scripts/fuzz.sh 60 gguf
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
shift || true
command -v clang++ >/dev/null || { echo "fuzz.sh: needs clang (apt-get install clang)" >&2; exit 1; }
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DMMFREE_FUZZ=ON -DMMFREE_BUILD_TESTS=OFF >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for d in tests/fuzz/corpus/*/; do targets+=("$(basename "$d")"); done
fi
nice -n 10 cmake --build build-fuzz --target "${targets[@]/#/fuzz_}"
out=build-fuzz/out
for t in "${targets[@]}"; do
  mkdir -p "$out/$t/corpus" "$out/$t/crashes"
  # A single allocation over 300 MB is a finding: no input of these sizes needs one (issue 16).
  nice -n 19 "build-fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=2048 \
    -malloc_limit_mb=300 -print_final_stats=1 -artifact_prefix="$out/$t/crashes/" \
    "$out/$t/corpus" "tests/fuzz/corpus/$t" >"$out/$t/log" 2>&1 &
done
wait || true
{
  printf '%-16s %10s %8s %8s %8s %s\n' target execs cov ft corpus crashes
  for t in "${targets[@]}"; do
    log="$out/$t/log"
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo "?")
    ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo "?")
    corp=$(ls "$out/$t/corpus" | wc -l)
    crashes=$(ls "$out/$t/crashes" | wc -l)
    printf '%-16s %10s %8s %8s %8s %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corp" "$crashes"
  done
} | tee "$out/summary.txt"
