# Sourced by scripts/test.sh and scripts/build-cuda.sh: has_cuda_toolkit succeeds where nvcc can be
# found (CUDACXX, the PATH, or the toolkit's usual /usr/local/cuda, where src/backend/cuda/cuda.cmake
# also looks).
has_cuda_toolkit() { [ -n "${CUDACXX:-}" ] || command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; }
