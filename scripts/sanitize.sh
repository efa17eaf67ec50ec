#!/usr/bin/env bash
# Builds the test suite with AddressSanitizer + UndefinedBehaviorSanitizer (gcc, -O1) in
# build-asan and runs it, the fuzz corpus replays included. Any report fails the run
# (halt_on_error). A few tests too slow under the sanitizers are left out (docs/TESTING.md says
# which and why); pass "all" to run every one.
#   scripts/sanitize.sh [all]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O1 -DMMFREE_SANITIZE=ON \
  -DMMFREE_BUILD_TESTS=ON >/dev/null
cmake --build build-asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
SLOW='^$'
[ "${1:-}" = all ] || SLOW="${MMFREE_SANITIZE_EXCLUDE:-^$}"
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -E "$SLOW"
