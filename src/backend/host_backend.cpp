#include "backend/host_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "util/error.h"
#include "util/machine_stats.h"

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

double HostBackend::read_bandwidth_gbs(int64_t bytes) {
  return measure_read_bandwidth_gbs(probe_threads(), static_cast<size_t>(bytes), 5);
}

void HostBackend::fill_zero(void* dst, int64_t bytes) { std::memset(dst, 0, static_cast<size_t>(bytes)); }

void HostBackend::copy(void* dst, const void* src, int64_t bytes) { std::memmove(dst, src, static_cast<size_t>(bytes)); }

std::unique_ptr<BackendEmbeddings> HostBackend::upload_embeddings(const EmbeddingTable& table) {
  auto e = std::make_unique<HostEmbeddings>();
  e->rows = table.rows();
  e->cols = table.cols();
  e->table = table;
  return e;
}

std::unique_ptr<BackendEmbeddings> HostBackend::float_embeddings(const float* table, int64_t rows, int64_t cols) {
  return upload_embeddings(EmbeddingTable(GgmlType::F32, reinterpret_cast<const uint8_t*>(table), rows, cols));
}

void HostBackend::embed(const BackendEmbeddings& table, const int32_t* tokens, int64_t n, float* x) {
  const auto& t = static_cast<const HostEmbeddings&>(table).table;
  for (int64_t r = 0; r < n; ++r) t.row(tokens[r], x + r * t.cols());
}

void HostBackend::reserve(int64_t rows, int64_t max_cols) {
  rows_ = std::max(rows_, rows);
  cols_ = std::max(cols_, max_cols);
  m_.resize(static_cast<size_t>(rows_ * cols_));
}

void HostBackend::form_input(const BitLinearInput& in, int64_t n, int64_t cols) {
  if (!in.keep_m || (in.kind == BitLinearInput::Kind::Norm && in.add))
    throw Error("internal: form_input needs keep_m, and a Norm input without add");
  formed_input(in, n, cols);
}

const float* HostBackend::formed_input(const BitLinearInput& in, int64_t n, int64_t cols) {
  using Kind = BitLinearInput::Kind;
  if (in.kind == Kind::Plain && in.ld == cols && !in.keep_m) return in.x;
  if (in.keep_m && in.kind == Kind::Recurrent) throw Error("internal: a Recurrent input cannot be kept");
  if (!in.keep_m && (n > rows_ || cols > cols_)) throw Error("internal: host backend scratch too small (reserve)");
  float* m = in.keep_m ? in.keep_m : m_.data();
  switch (in.kind) {
    case Kind::Plain:
      for (int64_t r = 0; r < n; ++r) std::copy_n(in.x + r * in.ld, cols, m + r * cols);
      break;
    case Kind::Norm:
      if (in.add)
        for (int64_t r = 0; r < n; ++r)
          for (int64_t c = 0; c < cols; ++c) in.x[r * in.ld + c] += in.add[r * in.ld + c];
      if (in.keep_x)
        for (int64_t r = 0; r < n; ++r) std::copy_n(in.x + r * in.ld, cols, in.keep_x + r * cols);
      rmsnorm(in.x, in.ld, in.w, n, cols, in.eps, m);
      break;
    case Kind::Gated:
    case Kind::Recurrent: {
      const float* h = in.h;
      if (in.kind == Kind::Recurrent) {
        mlgru_scan(*in.scan);
        h = in.scan->h_out;
      }
      rmsnorm(in.x, in.ld, in.w, n, cols, in.eps, m);
      if (in.ld == cols) {
        silu_mul(h, m, n, cols, cols, m, cols);
      } else {
        for (int64_t r = 0; r < n; ++r) silu_mul(h + r * in.ld, m + r * cols, 1, cols, cols, m + r * cols, cols);
      }
      break;
    }
    case Kind::Glu:
      silu_mul(in.x, in.x + cols, n, cols, in.ld, m, cols);
      break;
  }
  return m;
}

void HostBackend::bitlinear(std::span<const BitLinearCall> calls, const BitLinearInput& in, int64_t n) {
  if (calls.empty() || calls.size() > static_cast<size_t>(kMaxSharedInput))
    throw Error("internal: bitlinear takes 1 to " + std::to_string(kMaxSharedInput) + " calls");
  const float* m = formed_input(in, n, calls[0].w->cols);
  if (is_trainable(*calls[0].w))
    train_products(calls, m, n);
  else
    products(calls, m, n);
}

}  // namespace mmfree
