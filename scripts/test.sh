#!/usr/bin/env bash
# Builds (Release, with tests) and runs the whole test suite. Where the CUDA toolkit is installed
# the build includes the CUDA backend (-DMMFREE_CUDA=ON) and its kernel tests, so that the CUDA code
# never rots unseen (without a GPU each CUDA test skips, saying why); elsewhere, or with
# MMFREE_CUDA=OFF in the environment, the CPU-only build, which never needs the toolkit (the
# sanitizer build, scripts/sanitize.sh, is always CPU-only).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
. scripts/cuda-toolkit.sh
cuda=OFF
if [ "${MMFREE_CUDA:-auto}" != OFF ] && has_cuda_toolkit; then
  cuda=ON
fi
echo "test.sh: CUDA backend $cuda"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DMMFREE_BUILD_TESTS=ON -DMMFREE_CUDA=$cuda
cmake --build build
[ $cuda = OFF ] || build/mmfree info --devices
ctest --test-dir build --output-on-failure -j "$(nproc)"
