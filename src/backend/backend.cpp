#include "backend/backend.h"

#include <algorithm>

#include "backend/cpu/cpu_backend.h"
#include "backend/ref/ref_backend.h"
#include "util/error.h"

#if defined(MMFREE_CUDA)
#include "backend/cuda/cuda_backend.h"
#endif

namespace mmfree {

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    this->~Buffer();
    owner_ = std::exchange(o.owner_, nullptr);
    data_ = std::exchange(o.data_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

Buffer::~Buffer() {
  if (owner_ && data_) owner_->free(data_);
  owner_ = nullptr;
  data_ = nullptr;
}

std::unique_ptr<Backend> make_backend(const DeviceOptions& o) {
  const std::string& d = o.device;
  const bool cuda = d == "cuda" || d.starts_with("cuda:");
  const std::string& g = o.backward_gemm;
  if (!g.empty() && g != "fp32" && g != "bf16") throw Error("--backward-gemm " + g + ": expected bf16 or fp32");
  if (g == "bf16" && !cuda) throw Error("--backward-gemm bf16: only the cuda device has bf16 GEMMs (" + d + " computes in fp32)");
  if (d == "ref") return std::make_unique<RefBackend>();
  if (d == "cpu") return std::make_unique<CpuBackend>(o.threads, o.isa);
  if (cuda) {
#if defined(MMFREE_CUDA)
    return make_cuda_backend(d, g != "fp32");
#else
    throw Error("--device " + d + ": this mmfree was built without CUDA (configure with -DMMFREE_CUDA=ON)");
#endif
  }
  throw Error("--device " + d + ": unknown device (expected ref, cpu, cuda or cuda:N)");
}

std::vector<std::string> describe_backends() {
  std::vector<std::string> out{RefBackend().description(), CpuBackend(0, "").description()};
#if defined(MMFREE_CUDA)
  for (const std::string& s : describe_cuda_devices()) out.push_back(s);
#else
  out.push_back("cuda: not built in (configure with -DMMFREE_CUDA=ON)");
#endif
  return out;
}

}  // namespace mmfree

namespace mmfree {

void Backend::select_top(const float* logits, int64_t V, std::span<const ChoiceRow> how, int64_t k, TokenChoice* out) {
  const auto rows = static_cast<int64_t>(how.size());
  std::vector<float> host;
  const float* l = logits;
  if (!host_memory()) {
    host.resize(static_cast<size_t>(rows * V));
    read(host.data(), logits, rows * V * static_cast<int64_t>(sizeof(float)));
    l = host.data();
  }
  std::vector<TokenChoice> scratch;
  const int64_t n = std::min(k, V);
  for (int64_t r = 0; r < rows; ++r) select_top_host(l + r * V, V, how[static_cast<size_t>(r)], k, out + r * n, scratch);
}

// Training ops of a backend that does not train yet.
void Backend::not_trained() const { throw Error("--device " + name() + ": training is not implemented on this backend yet"); }
std::unique_ptr<BackendMatrix> Backend::trainable_matrix(int64_t, int64_t, bool) { not_trained(); }
void Backend::ternarize(BackendMatrix&, const float*) { not_trained(); }
void Backend::reserve_training(int64_t, int64_t) { not_trained(); }
void Backend::form_input(const BitLinearInput&, int64_t, int64_t) { not_trained(); }
std::unique_ptr<BackendEmbeddings> Backend::float_embeddings(const float*, int64_t, int64_t) { not_trained(); }
void Backend::bitlinear_backward(const BitLinearBackward&) { not_trained(); }
void Backend::bitlinear_backwards(std::span<const BitLinearBackward> calls) {
  for (const BitLinearBackward& c : calls) bitlinear_backward(c);
}
void check_glu(const BitLinearBackward& b) {
  if (b.glu && 2 * b.glu->I != b.w->rows)
    throw Error("internal: a GLU backward of width " + std::to_string(b.glu->I) + " for " + std::to_string(b.w->rows) + " rows");
}
const float* Backend::glu_dy(const BitLinearBackward& b) {
  if (!b.glu) return b.dy;
  check_glu(b);
  glu_backward(b.glu->gv, b.glu->dz, b.n, b.glu->I, b.glu->dgv);
  return b.glu->dgv;
}
void Backend::rmsnorm_backward(const float*, const float*, const float*, int64_t, int64_t, float, float*, bool, float*) {
  not_trained();
}
void Backend::gated_backward(const GatedBackward&) { not_trained(); }
void Backend::glu_backward(const float*, const float*, int64_t, int64_t, float*) { not_trained(); }
void Backend::mlgru_scan_backward(const MlgruScanBackward&) { not_trained(); }
void Backend::embed_backward(const int32_t*, const float*, int64_t, int64_t, float*) { not_trained(); }
double Backend::cross_entropy(float*, const int32_t*, int64_t, int64_t, float) { not_trained(); }
void Backend::adamw(const AdamWUpdate&) { not_trained(); }
double Backend::sum_squares(const float*, int64_t) { not_trained(); }

}  // namespace mmfree
