#pragma once
// The token embedding table, read in place from the mapped model file: a row is converted to
// float only when its token is looked up.
#include <cstdint>

#include "format/ggml_types.h"

namespace mmfree {

class EmbeddingTable {
 public:
  EmbeddingTable() = default;
  // type: F32, F16, BF16 or Q8_0; data holds rows x cols values and must outlive the table.
  EmbeddingTable(GgmlType type, const uint8_t* data, int64_t rows, int64_t cols);

  GgmlType type() const { return type_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t row_bytes() const { return row_bytes_; }
  const uint8_t* data() const { return data_; }  // rows x row_bytes bytes

  void row(int64_t id, float* out) const;  // id in [0, rows)

 private:
  GgmlType type_ = GgmlType::F32;
  const uint8_t* data_ = nullptr;
  int64_t rows_ = 0, cols_ = 0, row_bytes_ = 0;
};

}  // namespace mmfree
