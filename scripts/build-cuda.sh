#!/usr/bin/env bash
# Builds mmfree with the CUDA backend (-DMMFREE_CUDA=ON) where the CUDA toolkit is installed, so that
# the CUDA code never rots unseen, and runs the CUDA kernel tests (each skips, saying why, without a
# GPU). The CPU-only build (scripts/test.sh) never needs the toolkit.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/cuda-toolkit.sh
if ! has_cuda_toolkit; then
  echo "build-cuda: no CUDA toolkit (nvcc) here: the CUDA build is skipped"
  exit 0
fi
cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DMMFREE_CUDA=ON -DMMFREE_BUILD_TESTS=ON
cmake --build build-cuda --target mmfree mmfree_cuda_tests
build-cuda/mmfree info --devices
build-cuda/mmfree_cuda_tests
