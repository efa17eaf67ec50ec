#pragma once
// The ggml tensor element types that GGUF files name by id: block size (elements per block) and
// bytes per block of each, so that a reader can size and bounds-check any standard tensor.
#include <cstdint>
#include <string>

namespace mmfree {

// Ids as in ggml's enum ggml_type (docs/gguf.md); only those mmfree writes or reads are named.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q8_0 = 8,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
};

struct GgmlTypeTraits {
  const char* name;    // ggml's spelling, e.g. "tq2_0"
  int64_t block_size;  // elements per block (1 for plain types)
  int64_t block_bytes;
};

// Traits of type id `id`, or nullptr when the id names no ggml type (or one removed from GGUF).
const GgmlTypeTraits* ggml_type_traits(uint32_t id);
const GgmlTypeTraits& ggml_type_traits(GgmlType t);
std::string ggml_type_name(uint32_t id);  // "tq2_0", or "unknown type 77"

// Bytes of one row of `n` elements; n must be a multiple of the block size.
int64_t ggml_row_bytes(GgmlType t, int64_t n);

}  // namespace mmfree
