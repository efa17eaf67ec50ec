#pragma once
// Where each weight of a 256-weight block lives in ggml's ternary formats TQ2_0 and TQ1_0, and
// where each activation goes in the kernels' "planes": 64 bytes of weight codes (weight + 1, in
// {0, 1, 2}) decoded at once, matched byte for byte by 64 activations. This header is the single
// source of truth for both layouts (pack, unpack, activation order, scalar kernels).
//
// TQ2_0 block (66 bytes): qs[64], then f16 d. Element j*128 + l*32 + m (j < 2, l < 4, m < 32) is
//   stored as code (weight + 1) in qs[j*32 + m], bits 2l..2l+1. Plane l = (qs >> 2l) & 3.
// TQ2_0_R8: the 64 code bytes of TQ2_0's blocks, without d. Rows go in groups of kR8Rows (the last
//   group may be smaller, G rows); in a group, block b of its row i sits at b * G * 64 + i * 64 from
//   the group's start (row0 * k / 4). All rows * k / 256 f16 d values follow the codes.
// TQ1_0 block (54 bytes): qs[48], qh[4], then f16 d. Byte s holds five base-3 digits (four in qh,
//   with a zero fifth digit), the first the most significant, scaled to a byte as
//   ceil(value * 256 / 243); digit n of byte y is ((y * 3^n) mod 256 * 3) >> 8. Plane n holds
//   digit n of every byte; the SIMD decoder packs even and odd bytes of each 16-byte lane apart
//   (tq1_plane_pos), and the activations follow that order.
#include <cstdint>

namespace mmfree::layout {

constexpr int kBlockWeights = 256;  // QK_K in ggml
constexpr int kPlaneBytes = 64;

constexpr int kTq2BlockBytes = 66;
constexpr int kTq2Planes = 4;
constexpr int kR8Rows = 8;

constexpr int kTq1BlockBytes = 54;
constexpr int kTq1QsBytes = 48;
constexpr int kTq1CodeBytes = 52;  // qs + qh
constexpr int kTq1Planes = 5;

constexpr int kI8BlockWeights = 64;  // one plane: the int8 fallback has no blocks of its own

// TQ2_0_R8: the first row of row r's group, and the number of rows in that group (kR8Rows, or
// fewer in the last group of a matrix of `rows` rows). `static`: the kernels call these at run time,
// and each file must get its own copy, compiled for its own instruction set.
static constexpr int64_t r8_group_start(int64_t r) { return r / kR8Rows * kR8Rows; }
static constexpr int64_t r8_group_rows(int64_t r, int64_t rows) {
  return rows - r8_group_start(r) < kR8Rows ? rows - r8_group_start(r) : kR8Rows;
}

// TQ2_0_R8: offset of block b of row r in a matrix of `rows` rows of `blocks` blocks.
static constexpr int64_t r8_block_offset(int64_t r, int64_t b, int64_t rows, int64_t blocks) {
  const int64_t row0 = r8_group_start(r);
  return row0 * blocks * kPlaneBytes + (b * r8_group_rows(r, rows) + (r - row0)) * kPlaneBytes;
}

// TQ2_0: the element stored in qs[s], bits 2l..2l+1.
constexpr int tq2_element(int s, int l) { return (s / 32) * 128 + l * 32 + s % 32; }

// TQ1_0: the element held by base-3 digit n of code byte s (s < 52), or -1 (qh's fifth digit).
constexpr int tq1_element(int s, int n) {
  if (s < 32) return n * 32 + s;
  if (s < kTq1QsBytes) return 160 + n * 16 + (s - 32);
  return n < 4 ? 240 + n * 4 + (s - kTq1QsBytes) : -1;
}

// Digit n (0 = most significant) of a TQ1_0 code byte, in {0, 1, 2}.
constexpr int tq1_digit(uint8_t y, int n) {
  constexpr int kPow3[5] = {1, 3, 9, 27, 81};
  return ((static_cast<uint8_t>(y * kPow3[n])) * 3) >> 8;
}

// Position of code byte s within a decoded TQ1_0 plane: in each 16-byte lane the SIMD decoder
// puts the even bytes first, then the odd ones (vpackuswb of the two halves).
constexpr int tq1_plane_pos(int s) { return (s / 16) * 16 + (s % 2 ? 8 : 0) + (s % 16) / 2; }

}  // namespace mmfree::layout
