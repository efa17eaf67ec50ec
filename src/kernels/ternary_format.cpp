#include "kernels/ternary_format.h"

#include <cstring>

#include "kernels/ternary_layout.h"
#include "util/error.h"
#include "util/half.h"

namespace mmfree {
namespace {

using namespace layout;

constexpr TernaryFormat kFormats[] = {TernaryFormat::TQ2_0_R8, TernaryFormat::TQ2_0, TernaryFormat::TQ1_0, TernaryFormat::I8};

void pack_tq2_codes(const int8_t* t, uint8_t* out) {
  std::memset(out, 0, 64);
  for (int s = 0; s < 64; ++s)
    for (int l = 0; l < kTq2Planes; ++l) out[s] |= static_cast<uint8_t>((t[tq2_element(s, l)] + 1) << (2 * l));
}

void pack_tq2_block(const int8_t* t, uint16_t d, uint8_t* out) {
  pack_tq2_codes(t, out);
  std::memcpy(out + 64, &d, 2);  // little-endian f16, as ggml stores it on every platform it supports
}

void pack_tq1_block(const int8_t* t, uint16_t d, uint8_t* out) {
  for (int s = 0; s < kTq1CodeBytes; ++s) {
    int value = 0;  // the five base-3 digits, the first the most significant; qh's fifth is 0
    for (int n = 0; n < 5; ++n) {
      const int e = tq1_element(s, n);
      value = value * 3 + (e < 0 ? 0 : t[e] + 1);
    }
    out[s] = static_cast<uint8_t>((value * 256 + 242) / 243);  // ceil(value * 256 / 243)
  }
  std::memcpy(out + kTq1CodeBytes, &d, 2);
}

void unpack_tq2_block(const uint8_t* in, int8_t* t) {
  for (int s = 0; s < 64; ++s)
    for (int l = 0; l < kTq2Planes; ++l) t[tq2_element(s, l)] = static_cast<int8_t>(((in[s] >> (2 * l)) & 3) - 1);
}

void unpack_tq1_block(const uint8_t* in, int8_t* t) {
  for (int s = 0; s < kTq1CodeBytes; ++s)
    for (int n = 0; n < 5; ++n) {
      const int e = tq1_element(s, n);
      if (e >= 0) t[e] = static_cast<int8_t>(tq1_digit(in[s], n) - 1);
    }
}

}  // namespace

const char* format_name(TernaryFormat f) {
  switch (f) {
    case TernaryFormat::I8: return "i8";
    case TernaryFormat::TQ2_0: return "tq2_0";
    case TernaryFormat::TQ1_0: return "tq1_0";
    case TernaryFormat::TQ2_0_R8: return "tq2_0_r8";
  }
  return "?";
}

TernaryFormat parse_format(const std::string& name) {
  for (TernaryFormat f : kFormats)
    if (name == format_name(f)) return f;
  throw Error("unknown ternary weight format '" + name + "' (expected tq2_0_r8, tq2_0, tq1_0 or i8)");
}

bool format_fits(TernaryFormat f, int64_t k) {
  return k > 0 && (f == TernaryFormat::I8 || k % kBlockWeights == 0);
}

TernaryFormat default_format(int64_t k, TernaryFormat wanted) {
  return format_fits(wanted, k) ? wanted : TernaryFormat::I8;
}

int64_t format_row_bytes(TernaryFormat f, int64_t k) {
  if (!format_fits(f, k))  // message built only on failure: called per product
    throw Error(std::string("ternary format ") + format_name(f) + " cannot hold rows of " + std::to_string(k) +
                " weights (it needs a positive multiple of 256)");
  switch (f) {
    case TernaryFormat::I8: return k;
    case TernaryFormat::TQ2_0: return k / kBlockWeights * kTq2BlockBytes;
    case TernaryFormat::TQ1_0: return k / kBlockWeights * kTq1BlockBytes;
    case TernaryFormat::TQ2_0_R8: return k / kBlockWeights * kPlaneBytes;
  }
  return 0;
}

int64_t format_matrix_bytes(TernaryFormat f, int64_t rows, int64_t k) {
  const int64_t codes = rows * format_row_bytes(f, k);
  return f == TernaryFormat::TQ2_0_R8 ? codes + rows * (k / kBlockWeights) * 2 : codes;
}

void pack_ternary(TernaryFormat f, const int8_t* t, int64_t rows, int64_t cols, float d, uint8_t* out) {
  const int64_t row_bytes = format_row_bytes(f, cols);
  for (int64_t i = 0; i < rows * cols; ++i)
    if (t[i] < -1 || t[i] > 1)  // message built only on failure: this runs once per weight
      throw Error("pack_ternary: value " + std::to_string(t[i]) + " at index " + std::to_string(i) + " is not in {-1, 0, 1}");
  if (f == TernaryFormat::I8) {
    std::memcpy(out, t, static_cast<size_t>(rows * cols));
    return;
  }
  const uint16_t dh = f32_to_f16(d);
  const int64_t blocks = cols / kBlockWeights;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < blocks; ++b) {
      const int8_t* src = t + r * cols + b * kBlockWeights;
      if (f == TernaryFormat::TQ2_0) pack_tq2_block(src, dh, out + r * row_bytes + b * kTq2BlockBytes);
      else if (f == TernaryFormat::TQ1_0) pack_tq1_block(src, dh, out + r * row_bytes + b * kTq1BlockBytes);
      else pack_tq2_codes(src, out + r8_block_offset(r, b, rows, blocks));
    }
  if (f == TernaryFormat::TQ2_0_R8)
    for (int64_t i = 0; i < rows * blocks; ++i) std::memcpy(out + rows * row_bytes + 2 * i, &dh, 2);
}

std::vector<uint8_t> pack_ternary(TernaryFormat f, const int8_t* t, int64_t rows, int64_t cols, float d) {
  std::vector<uint8_t> out(static_cast<size_t>(format_matrix_bytes(f, rows, cols)));
  pack_ternary(f, t, rows, cols, d, out.data());
  return out;
}

void unpack_ternary(const TernaryMatrix& w, int8_t* out) {
  const int64_t row_bytes = w.row_bytes();
  if (w.format == TernaryFormat::I8) {
    std::memcpy(out, w.data, static_cast<size_t>(w.rows * w.cols));
    return;
  }
  const int64_t blocks = w.cols / kBlockWeights;
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t b = 0; b < blocks; ++b) {
      int8_t* dst = out + r * w.cols + b * kBlockWeights;
      if (w.format == TernaryFormat::TQ2_0) unpack_tq2_block(w.data + r * row_bytes + b * kTq2BlockBytes, dst);
      else if (w.format == TernaryFormat::TQ1_0) unpack_tq1_block(w.data + r * row_bytes + b * kTq1BlockBytes, dst);
      else unpack_tq2_block(w.data + r8_block_offset(r, b, w.rows, blocks), dst);
    }
}

void validate_ternary(const TernaryMatrix& w, const std::string& what) {
  const int64_t row_bytes = w.row_bytes();
  const auto fail = [&](int64_t r, const std::string& why) {
    throw Error(what + ": row " + std::to_string(r) + " is not a ternary " + format_name(w.format) + " row (" + why + ")");
  };
  const int64_t blocks = w.cols / kBlockWeights;
  for (int64_t r = 0; r < w.rows; ++r) {
    const uint8_t* row = w.data + r * row_bytes;
    if (w.format == TernaryFormat::I8) {
      for (int64_t i = 0; i < w.cols; ++i)
        if (static_cast<int8_t>(row[i]) < -1 || static_cast<int8_t>(row[i]) > 1)
          fail(r, "value " + std::to_string(static_cast<int8_t>(row[i])) + " at column " + std::to_string(i));
    } else if (w.format == TernaryFormat::TQ2_0 || w.format == TernaryFormat::TQ2_0_R8) {
      for (int64_t b = 0; b < blocks; ++b) {
        const uint8_t* codes =
            w.format == TernaryFormat::TQ2_0 ? row + b * kTq2BlockBytes : w.data + r8_block_offset(r, b, w.rows, blocks);
        for (int s = 0; s < 64; ++s) {
          const uint8_t y = codes[s];
          // Code 3 (binary 11) in any of the four 2-bit fields: (y & (y >> 1)) has a field's low bit set.
          if (y & (y >> 1) & 0x55) fail(r, "2-bit code 3 in block " + std::to_string(b));
        }
      }
    }
  }
}

}  // namespace mmfree
