#pragma once
// The mma16 layout (mma_layout.h) made on the device from a model file's TQ2_0_R8 codes, so that
// loading a model costs one upload of its packed bytes and a fast on-chip rearrangement instead of
// a host pass over every weight (pack_mma: about 255 M weights/s on one core of the dev VM, 10 s
// for the 2.7B model).
#include <cuda_runtime_api.h>

#include <cstdint>

namespace mmfree::cuda {

// src: a rows x cols TQ2_0_R8 matrix on the device (its rows * cols / 4 code bytes; the f16 d values
// after them are not read), cols % 256 == 0, every code in {0, 1, 2} (validate_ternary on the host
// bytes). dst: mma_bytes(rows, cols) bytes on the device, 16-byte aligned. Throws Error on bad shapes.
void relayout_tq2_r8(const uint8_t* src, int64_t rows, int64_t cols, uint8_t* dst, cudaStream_t s);

}  // namespace mmfree::cuda
