#include "backend/host_backend.h"

#include <cstdlib>
#include <cstring>

#include "util/error.h"

namespace mmfree {

namespace {
struct HostEmbeddings : BackendEmbeddings {
  EmbeddingTable table;
};
}  // namespace

Buffer HostBackend::alloc(int64_t bytes) {
  check(bytes >= 0, "internal: negative allocation");
  const size_t size = (static_cast<size_t>(bytes) + 63) / 64 * 64 + 64;  // never 0, a multiple of the alignment
  void* p = std::aligned_alloc(64, size);
  if (!p) throw Error("out of memory: could not allocate " + std::to_string(bytes) + " bytes");
  std::memset(p, 0, size);
  return Buffer(this, p, bytes);
}

void HostBackend::free(void* data) noexcept { std::free(data); }

void HostBackend::write(void* dst, const void* host, int64_t bytes) { std::memcpy(dst, host, static_cast<size_t>(bytes)); }

void HostBackend::read(void* host, const void* src, int64_t bytes) { std::memcpy(host, src, static_cast<size_t>(bytes)); }

void HostBackend::fill_zero(void* dst, int64_t bytes) { std::memset(dst, 0, static_cast<size_t>(bytes)); }

void HostBackend::copy(void* dst, const void* src, int64_t bytes) { std::memmove(dst, src, static_cast<size_t>(bytes)); }

std::unique_ptr<BackendEmbeddings> HostBackend::upload_embeddings(const EmbeddingTable& table) {
  auto e = std::make_unique<HostEmbeddings>();
  e->rows = table.rows();
  e->cols = table.cols();
  e->table = table;
  return e;
}

void HostBackend::embed(const BackendEmbeddings& table, const int32_t* tokens, int64_t n, float* x) {
  const auto& t = static_cast<const HostEmbeddings&>(table).table;
  for (int64_t r = 0; r < n; ++r) t.row(tokens[r], x + r * t.cols());
}

void HostBackend::add(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace mmfree
