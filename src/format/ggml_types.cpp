#include "format/ggml_types.h"

#include "util/error.h"

namespace mmfree {

namespace {
// Indexed by id; block sizes and bytes from the block structs of ggml-common.h.
constexpr GgmlTypeTraits kTraits[] = {
    {"f32", 1, 4},        {"f16", 1, 2},        {"q4_0", 32, 18},      {"q4_1", 32, 20},     {nullptr, 0, 0},
    {nullptr, 0, 0},      {"q5_0", 32, 22},     {"q5_1", 32, 24},      {"q8_0", 32, 34},     {"q8_1", 32, 36},
    {"q2_K", 256, 84},    {"q3_K", 256, 110},   {"q4_K", 256, 144},    {"q5_K", 256, 176},   {"q6_K", 256, 210},
    {"q8_K", 256, 292},   {"iq2_xxs", 256, 66}, {"iq2_xs", 256, 74},   {"iq3_xxs", 256, 98}, {"iq1_s", 256, 50},
    {"iq4_nl", 32, 18},   {"iq3_s", 256, 110},  {"iq2_s", 256, 82},    {"iq4_xs", 256, 136}, {"i8", 1, 1},
    {"i16", 1, 2},        {"i32", 1, 4},        {"i64", 1, 8},         {"f64", 1, 8},        {"iq1_m", 256, 56},
    {"bf16", 1, 2},       {nullptr, 0, 0},      {nullptr, 0, 0},       {nullptr, 0, 0},      {"tq1_0", 256, 54},
    {"tq2_0", 256, 66},   {nullptr, 0, 0},      {nullptr, 0, 0},       {nullptr, 0, 0},      {"mxfp4", 32, 17},
    {"nvfp4", 64, 36},    {"q1_0", 128, 18},    {"q2_0", 64, 18},
};
}  // namespace

const GgmlTypeTraits* ggml_type_traits(uint32_t id) {
  if (id >= std::size(kTraits) || kTraits[id].name == nullptr) return nullptr;
  return &kTraits[id];
}

const GgmlTypeTraits& ggml_type_traits(GgmlType t) { return *ggml_type_traits(static_cast<uint32_t>(t)); }

std::string ggml_type_name(uint32_t id) {
  const GgmlTypeTraits* t = ggml_type_traits(id);
  return t ? t->name : "unknown type " + std::to_string(id);
}

int64_t ggml_row_bytes(GgmlType t, int64_t n) {
  const GgmlTypeTraits& tr = ggml_type_traits(t);
  check(n % tr.block_size == 0, "internal: a row of " + std::to_string(n) + " elements is not a whole number of " +
                                    tr.name + " blocks");
  return n / tr.block_size * tr.block_bytes;
}

}  // namespace mmfree
