#include "model/embedding_table.h"

#include "format/float_codec.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace mmfree {

EmbeddingTable::EmbeddingTable(GgmlType type, const uint8_t* data, int64_t rows, int64_t cols)
    : type_(type), data_(data), rows_(rows), cols_(cols), row_bytes_(ggml_row_bytes(type, cols)) {
  check(is_float_storage(type), "internal: embeddings stored as " + ggml_type_name(static_cast<uint32_t>(type)));
  // Lookups touch a few rows of a large table: only those rows should become resident.
  advise_random_access(data, static_cast<size_t>(rows * row_bytes_));
}

void EmbeddingTable::row(int64_t id, float* out) const { decode_floats(type_, data_ + id * row_bytes_, cols_, out); }

}  // namespace mmfree
