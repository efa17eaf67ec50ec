#pragma once
// What the backends that compute in host memory (ref, cpu) share: memory from the heap, 64-byte
// aligned and zeroed; the embedding table read in place; plain copies.
#include "backend/backend.h"

namespace mmfree {

class HostBackend : public Backend {
 public:
  bool host_memory() const override { return true; }
  Buffer alloc(int64_t bytes) override;
  void free(void* data) noexcept override;
  void write(void* dst, const void* host, int64_t bytes) override;
  void read(void* host, const void* src, int64_t bytes) override;
  void fill_zero(void* dst, int64_t bytes) override;
  void copy(void* dst, const void* src, int64_t bytes) override;
  std::unique_ptr<BackendEmbeddings> upload_embeddings(const EmbeddingTable& table) override;
  void embed(const BackendEmbeddings& table, const int32_t* tokens, int64_t n, float* x) override;
  void add(float* x, const float* y, int64_t n) override;
};

}  // namespace mmfree
