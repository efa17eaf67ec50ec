#include "format/ternary_pack.h"

#include <cstring>

#include "util/error.h"
#include "util/half.h"

namespace mmfree {

namespace {

constexpr int64_t kTq2Bytes = 66, kTq1Bytes = 54;
constexpr int64_t kTq1Qs = 48, kTq1Qh = 4;  // TQ1_0: 48 bytes of 5 trits, 4 bytes of 4 trits

void put_f16(uint8_t* p, float d) {
  const uint16_t h = f32_to_f16(d);
  std::memcpy(p, &h, 2);
}

// TQ2_0: weight j*128 + l*32 + m (j < 2, l < 4, m < 32) is bits 2l..2l+1 of byte j*32 + m, as q+1.
void pack_tq2_block(const int8_t* v, uint8_t* out) {
  for (int j = 0; j < 2; ++j)
    for (int m = 0; m < 32; ++m) {
      unsigned byte = 0;
      for (int l = 0; l < 4; ++l) byte |= static_cast<unsigned>(v[j * 128 + l * 32 + m] + 1) << (2 * l);
      out[j * 32 + m] = static_cast<uint8_t>(byte);
    }
}

bool unpack_tq2_block(const uint8_t* in, int8_t* v) {
  bool ok = true;
  for (int j = 0; j < 2; ++j)
    for (int l = 0; l < 4; ++l)
      for (int m = 0; m < 32; ++m) {
        const int code = (in[j * 32 + m] >> (2 * l)) & 3;
        ok &= code != 3;
        v[j * 128 + l * 32 + m] = static_cast<int8_t>(code - 1);
      }
  return ok;
}

// TQ1_0 stores n trits t_0..t_{n-1} (t = q+1, t_0 most significant) as the byte ceil(x * 256 / 243)
// with x = their base-3 number padded to 5 trits: trit k then sits in the top of (byte * 3^k) mod 256.
uint8_t trits_to_byte(const int8_t* v, int stride, int n) {
  unsigned x = 0;
  for (int k = 0; k < 5; ++k) x = x * 3 + (k < n ? static_cast<unsigned>(v[k * stride] + 1) : 0u);
  return static_cast<uint8_t>((x * 256 + 242) / 243);
}

void byte_to_trits(uint8_t byte, int8_t* v, int stride, int n) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  for (int k = 0; k < n; ++k) {
    const uint8_t shifted = static_cast<uint8_t>(byte * kPow3[k]);
    v[k * stride] = static_cast<int8_t>(((shifted * 3) >> 8) - 1);
  }
}

// Weights 0..159: byte m < 32 holds m + 32k (k < 5); 160..239: byte 32 + m (m < 16) holds
// 160 + m + 16k; 240..255: qh byte j < 4 holds 240 + j + 4k (k < 4).
void pack_tq1_block(const int8_t* v, uint8_t* out) {
  for (int m = 0; m < 32; ++m) out[m] = trits_to_byte(v + m, 32, 5);
  for (int m = 0; m < 16; ++m) out[32 + m] = trits_to_byte(v + 160 + m, 16, 5);
  for (int j = 0; j < kTq1Qh; ++j) out[kTq1Qs + j] = trits_to_byte(v + 240 + j, 4, 4);
}

void unpack_tq1_block(const uint8_t* in, int8_t* v) {
  for (int m = 0; m < 32; ++m) byte_to_trits(in[m], v + m, 32, 5);
  for (int m = 0; m < 16; ++m) byte_to_trits(in[32 + m], v + 160 + m, 16, 5);
  for (int j = 0; j < kTq1Qh; ++j) byte_to_trits(in[kTq1Qs + j], v + 240 + j, 4, 4);
}

}  // namespace

GgmlType ternary_ggml_type(TernaryFormat f) {
  switch (f) {
    case TernaryFormat::TQ2_0: return GgmlType::TQ2_0;
    case TernaryFormat::TQ1_0: return GgmlType::TQ1_0;
    case TernaryFormat::I8: return GgmlType::I8;
  }
  throw Error("internal: unknown ternary format");
}

bool ternary_format_of(uint32_t id, TernaryFormat* out) {
  for (auto f : {TernaryFormat::TQ2_0, TernaryFormat::TQ1_0, TernaryFormat::I8})
    if (static_cast<uint32_t>(ternary_ggml_type(f)) == id) {
      *out = f;
      return true;
    }
  return false;
}

const char* ternary_format_name(TernaryFormat f) { return ggml_type_traits(ternary_ggml_type(f)).name; }

bool ternary_format_from_name(const std::string& s, TernaryFormat* out) {
  for (auto f : {TernaryFormat::TQ2_0, TernaryFormat::TQ1_0, TernaryFormat::I8})
    if (s == ternary_format_name(f)) {
      *out = f;
      return true;
    }
  return false;
}

TernaryFormat ternary_storage_format(TernaryFormat wanted, int64_t cols) {
  return cols % kTernaryBlock == 0 ? wanted : TernaryFormat::I8;
}

int64_t ternary_row_bytes(TernaryFormat f, int64_t cols) { return ggml_row_bytes(ternary_ggml_type(f), cols); }

void pack_ternary(TernaryFormat f, const int8_t* values, int64_t rows, int64_t cols, float d, uint8_t* out) {
  const int64_t n = rows * cols;
  if (f == TernaryFormat::I8) {
    std::memcpy(out, values, static_cast<size_t>(n));
    return;
  }
  check(cols % kTernaryBlock == 0, "internal: " + std::string(ternary_format_name(f)) + " rows need a multiple of 256 weights");
  const int64_t block_bytes = f == TernaryFormat::TQ2_0 ? kTq2Bytes : kTq1Bytes;
  for (int64_t b = 0; b < n / kTernaryBlock; ++b) {
    uint8_t* blk = out + b * block_bytes;
    if (f == TernaryFormat::TQ2_0) pack_tq2_block(values + b * kTernaryBlock, blk);
    else pack_tq1_block(values + b * kTernaryBlock, blk);
    put_f16(blk + block_bytes - 2, d);
  }
}

bool unpack_ternary(TernaryFormat f, const uint8_t* in, int64_t rows, int64_t cols, int8_t* out) {
  const int64_t n = rows * cols;
  bool ok = true;
  if (f == TernaryFormat::I8) {
    for (int64_t i = 0; i < n; ++i) {
      const auto v = static_cast<int8_t>(in[i]);
      ok &= v >= -1 && v <= 1;
      out[i] = v;
    }
    return ok;
  }
  check(cols % kTernaryBlock == 0, "internal: " + std::string(ternary_format_name(f)) + " rows need a multiple of 256 weights");
  const int64_t block_bytes = f == TernaryFormat::TQ2_0 ? kTq2Bytes : kTq1Bytes;
  for (int64_t b = 0; b < n / kTernaryBlock; ++b) {
    if (f == TernaryFormat::TQ2_0) ok &= unpack_tq2_block(in + b * block_bytes, out + b * kTernaryBlock);
    else unpack_tq1_block(in + b * block_bytes, out + b * kTernaryBlock);
  }
  return ok;
}

}  // namespace mmfree
