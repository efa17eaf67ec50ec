#include "backend/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <type_traits>
#include <functional>
#include <unordered_map>

#include "backend/cuda/backend_kernels.h"
#include "backend/cuda/bandwidth.h"
#include "backend/cuda/cuda_train.h"
#include "backend/cuda/elementwise.h"
#include "backend/cuda/mma_layout.h"
#include "backend/cuda/mma_relayout.h"
#include "backend/cuda/runtime.h"
#include "backend/cuda/select_top.h"
#include "backend/cuda/ternary_product.h"
#include "util/error.h"

namespace mmfree {

namespace {

struct CudaMatrix : BackendMatrix {
  cuda::DeviceBuffer<uint8_t> codes;  // mma16 layout
};

struct CudaEmbeddings : BackendEmbeddings {
  cuda::DeviceBuffer<uint8_t> bytes;  // as stored in the model file (none for float_embeddings' view)
  const uint8_t* data = nullptr;      // bytes, or the viewed table
  GgmlType type = GgmlType::F32;
  int64_t row_bytes = 0;
};

class CudaBackend : public Backend {
 public:
  CudaBackend(int index, cuda::BackwardGemm gemm) : info_(cuda::select_device(index)), train_(stream_.get(), gemm) {}

  std::string name() const override { return "cuda:" + std::to_string(info_.index); }
  std::string description() const override { return describe(info_); }
  bool host_memory() const override { return false; }
  // The tensor-core products want many tokens per weight tile: 2048 rows keep them busy.
  int64_t prefill_rows() const override { return 2048; }

  static std::string describe(const cuda::DeviceInfo& i) {
    return "cuda:" + std::to_string(i.index) + ": " + i.name + ", sm_" + std::to_string(i.cc_major) +
           std::to_string(i.cc_minor) + ", " + std::to_string(i.sm_count) + " SMs, " +
           std::to_string(i.global_bytes >> 20) + " MiB";
  }

  Buffer alloc(int64_t bytes) override {
    check(bytes >= 0, "internal: negative allocation");
    void* p = nullptr;
    const size_t size = static_cast<size_t>(std::max<int64_t>(bytes, 1) + 255) / 256 * 256;
    const cudaError_t e = cudaMalloc(&p, size);
    if (e != cudaSuccess) {
      cudaGetLastError();
      throw Error(name() + ": cannot allocate " + std::to_string(bytes) + " bytes of device memory: " + cudaGetErrorString(e));
    }
    cuda::check(cudaMemsetAsync(p, 0, size, stream_.get()), "memset");
    sizes_[p] = static_cast<int64_t>(size);
    cuda::note_device_bytes(static_cast<int64_t>(size));
    return Buffer(this, p, bytes);
  }
  void free(void* data) noexcept override {
    const auto it = sizes_.find(data);
    if (it != sizes_.end()) {
      cuda::note_device_bytes(-it->second);
      sizes_.erase(it);
    }
    cudaFree(data);
  }
  // The process's peak (runtime.h): every backend's buffers, scratch and workspaces.
  int64_t peak_device_bytes() const override { return cuda::device_bytes_peak(); }
  double read_bandwidth_gbs(int64_t bytes) override {
    // Not counted in the peak: the probe's buffer is freed before it returns.
    return cuda::measure_read_bandwidth(bytes / 16 * 16, 9, stream_.get()).gbps;
  }
  void write(void* dst, const void* host, int64_t bytes) override {
    cuda::check(cudaMemcpyAsync(dst, host, static_cast<size_t>(bytes), cudaMemcpyHostToDevice, stream_.get()), "copy to device");
  }
  void read(void* host, const void* src, int64_t bytes) override {
    cuda::check(cudaMemcpyAsync(host, src, static_cast<size_t>(bytes), cudaMemcpyDeviceToHost, stream_.get()), "copy from device");
    stream_.synchronize();
  }
  void fill_zero(void* dst, int64_t bytes) override {
    cuda::check(cudaMemsetAsync(dst, 0, static_cast<size_t>(bytes), stream_.get()), "memset");
  }
  void copy(void* dst, const void* src, int64_t bytes) override {
    cuda::check(cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes), cudaMemcpyDeviceToDevice, stream_.get()), "copy on device");
  }

  std::unique_ptr<BackendMatrix> upload_matrix(const TernaryMatrix& w, float s_w) override {
    auto m = std::make_unique<CudaMatrix>();
    m->rows = w.rows;
    m->cols = w.cols;
    m->s_w = s_w;
    // The same 2-bit codes, re-laid for the tensor cores: on the device from TQ2_0_R8 (a model
    // file's default), else on the host.
    m->codes = cuda::DeviceBuffer<uint8_t>(cuda::mma_bytes(w.rows, w.cols));
    if (w.format == TernaryFormat::TQ2_0_R8) {
      cuda::DeviceBuffer<uint8_t> r8(w.rows * w.cols / 4);
      r8.upload(w.data);
      cuda::relayout_tq2_r8(r8.data(), w.rows, w.cols, m->codes.data(), stream_.get());
      stream_.synchronize();  // before r8 is freed
    } else {
      const std::vector<uint8_t> packed = cuda::pack_mma(w);
      m->codes.upload(packed.data());
    }
    return m;
  }

  std::unique_ptr<BackendEmbeddings> upload_embeddings(const EmbeddingTable& t) override {
    auto e = std::make_unique<CudaEmbeddings>();
    e->rows = t.rows();
    e->cols = t.cols();
    e->type = t.type();
    e->row_bytes = t.row_bytes();
    e->bytes = cuda::DeviceBuffer<uint8_t>(t.rows() * t.row_bytes());
    e->bytes.upload(t.data());
    e->data = e->bytes.data();
    return e;
  }

  void reserve(int64_t rows, int64_t max_cols) override {
    reserve_products(rows, max_cols);
    grow_dense_states(rows_ * cols_);
  }

  void embed(const BackendEmbeddings& table, const int32_t* tokens, int64_t n, float* x) override {
    const auto& e = static_cast<const CudaEmbeddings&>(table);
    cuda::embed_rows(e.type, e.data, e.row_bytes, e.cols, tokens, n, x, stream_.get());
  }

  void bitlinear(std::span<const BitLinearCall> calls, const BitLinearInput& in, int64_t n) override {
    if (calls.empty() || calls.size() > static_cast<size_t>(kMaxSharedInput))
      throw Error("internal: bitlinear takes 1 to " + std::to_string(kMaxSharedInput) + " calls");
    using Kind = BitLinearInput::Kind;
    // Trainable matrices take the inference path too (codes ternarised on the device, their s_w
    // from the trainer), the inputs training keeps written by the quantising pass; identity
    // matrices (float products) go their own way.
    if (in.kind == Kind::Recurrent && (in.keep_m || in.keep_x))
      throw Error("internal: a Recurrent input cannot be kept (training scans first)");
    const auto* trainable = dynamic_cast<const cuda::CudaTrainableMatrix*>(calls[0].w);
    if (trainable && trainable->identity) return identity_bitlinear(calls, in, n);
    const int64_t k = calls[0].w->cols;
    if (n > rows_ || k > cols_) throw Error("internal: cuda backend scratch too small (reserve)");
    // Rows of q as long as this input needs (the scratch holds the widest): no padding written past it.
    const int64_t q_stride = cuda::padded_cols(k);
    cuda::QuantTarget targets[kMaxSharedInput];
    cuda::Product products[kMaxSharedInput];
    for (size_t j = 0; j < calls.size(); ++j) {
      Scratch& s = scratch_[j];
      targets[j] = cuda::QuantTarget{calls[j].norm, s.q.data(), s.scale.data(), s.sums.data()};
      if (calls[j].keep_xq) {  // the bf16 q / s_x of the backward's GEMMs, written by the quantising pass
        if (!trainable || train_.operand_bytes(n, k) == 0) throw Error("internal: keep_xq where the backend offers none");
        targets[j].dequantized = static_cast<__nv_bfloat16*>(calls[j].keep_xq);
      }
      const cuda::DeviceActivations act{s.q.data(), q_stride, s.sums.data(), s.scale.data(), n, k};
      if (trainable) {
        const auto& m = static_cast<const cuda::CudaTrainableMatrix&>(*calls[j].w);
        products[j] = cuda::Product{cuda::DeviceTernary{m.mma.data(), m.rows, m.cols}, act,
                                    cuda::ProductOut{nullptr, calls[j].y, m.rows, train_.s_w(m)}};
      } else {
        const auto& m = static_cast<const CudaMatrix&>(*calls[j].w);
        products[j] = cuda::Product{cuda::DeviceTernary{m.codes.data(), m.rows, m.cols}, act,
                                    cuda::ProductOut{nullptr, calls[j].y, m.rows, m.s_w}};
      }
    }
    const cuda::RowKeep keep{in.keep_m, in.kind == Kind::Norm ? in.keep_x : nullptr};
    const std::span<const cuda::QuantTarget> t(targets, calls.size());
    cudaStream_t st = stream_.get();
    switch (in.kind) {
      case Kind::Plain: cuda::norm_quantize(in.x, nullptr, in.ld, nullptr, in.eps, n, k, t, q_stride, st, keep); break;
      case Kind::Norm: cuda::norm_quantize(in.x, in.add, in.ld, in.w, in.eps, n, k, t, q_stride, st, keep); break;
      case Kind::Gated: cuda::gated_norm_quantize(in.x, in.h, in.ld, in.w, in.eps, n, k, t, q_stride, st, keep); break;
      case Kind::Glu: cuda::glu_quantize(in.x, in.ld, n, k, t, q_stride, st, keep); break;
      case Kind::Recurrent: {
        const MlgruScan& sc = *in.scan;
        if (sc.T == 1) {  // decode: the step and the gate in one launch, on the states where they lie
          cuda::mlgru_step_gated_quantize(sc.i, sc.f_lin, sc.lb, sc.states, sc.slots, sc.slot_stride, in.x, in.ld, in.w,
                                          in.eps, n, k, t, q_stride, st);
        } else {
          mlgru_scan(sc);
          cuda::gated_norm_quantize(in.x, sc.h_out, in.ld, in.w, in.eps, n, k, t, q_stride, st);
        }
        break;
      }
    }
    cuda::ternary_product({products, calls.size()}, st);
  }

  void ternary_product(const BackendMatrix& w, const int8_t* q, int64_t n, int32_t* acc) override {
    const auto& m = static_cast<const CudaMatrix&>(w);
    if (n > rows_ || m.cols > cols_) throw Error("internal: cuda backend scratch too small (reserve)");
    Scratch& s = scratch_[0];
    const int64_t q_stride = cuda::padded_cols(m.cols);
    cuda::pad_rows(q, n, m.cols, q_stride, s.q.data(), s.sums.data(), stream_.get());
    const cuda::Product p{cuda::DeviceTernary{m.codes.data(), m.rows, m.cols},
                          cuda::DeviceActivations{s.q.data(), q_stride, s.sums.data(), nullptr, n, m.cols},
                          cuda::ProductOut{acc, nullptr, m.rows, 1.0f}};
    cuda::ternary_product({&p, 1}, stream_.get());
  }

  // A decode step is dozens of small kernels per layer: recorded once as a CUDA graph, then one
  // launch per step, so launch latency no longer adds up.
  void run_recorded(const RecordingKey& key, void (*fn)(void*), void* ctx) override {
    auto it = graphs_.find(key);
    if (it == graphs_.end()) {
      if (graphs_.size() >= kMaxGraphs) graphs_.clear();  // shapes come and go (servers): keep a bounded set
      cudaStream_t st = stream_.get();
      cudaGraph_t g = nullptr;
      cuda::check(cudaStreamBeginCapture(st, cudaStreamCaptureModeRelaxed), "begin graph capture");
      try {
        fn(ctx);
      } catch (...) {
        if (cudaStreamEndCapture(st, &g) == cudaSuccess && g) cudaGraphDestroy(g);
        cudaGetLastError();
        throw;
      }
      cuda::check(cudaStreamEndCapture(st, &g), "end graph capture");
      cudaGraphExec_t exec = nullptr;
      const cudaError_t e = cudaGraphInstantiate(&exec, g, 0);
      cudaGraphDestroy(g);
      cuda::check(e, "instantiate graph");
      it = graphs_.emplace(key, GraphExec(exec)).first;
    }
    cuda::check(cudaGraphLaunch(it->second.get(), stream_.get()), "launch graph");
  }

  void mlgru_scan(const MlgruScan& s) override {
    if (s.B > INT64_MAX / std::max<int64_t>(s.d, 1)) throw Error("internal: mlgru_scan state size overflows");
    grow_dense_states(s.B * s.d);  // training reserves no inference scratch: its first scan sizes this
    // The scan kernel walks states B apart: gather the batch's slots, scan, scatter them back.
    cudaStream_t st = stream_.get();
    float* dense = dense_states_.data();
    cuda::gather_states(s.states, s.slots, s.slot_stride, s.B, s.d, dense, st);
    cuda::mlgru_scan(s.i, s.f_lin, s.d, s.lb, s.B, s.T, s.d, dense, s.d, s.h_out, s.d, st);
    cuda::scatter_states(dense, s.slots, s.slot_stride, s.B, s.d, s.states, st);
  }

  // The sampler's choices where the logits are: k of them cross to the host, not V (more than
  // kMaxDeviceChoices, or a vocabulary too large for the kernel: the host's way).
  void select_top(const float* logits, int64_t V, std::span<const ChoiceRow> how, int64_t k, TokenChoice* out) override {
    const auto rows = static_cast<int64_t>(how.size());
    const int64_t n = std::min(k, V);
    if (n > cuda::kMaxDeviceChoices || V > cuda::kMaxSelectVocab || rows > INT32_MAX / 2)
      return Backend::select_top(logits, V, how, k, out);
    if (rows == 0) return;
    how_host_.clear();
    ids_host_.clear();
    for (const ChoiceRow& r : how) {
      check_penalised(r, V);  // the kernel's bitmap has V bits
      how_host_.push_back({static_cast<int32_t>(ids_host_.size()), static_cast<int32_t>(r.penalised.size()), r.penalty,
                           r.temperature});
      ids_host_.insert(ids_host_.end(), r.penalised.begin(), r.penalised.end());
    }
    // Scratch that only grows: decode steps allocate nothing once it is large enough (the read at
    // the end of each call leaves no queued work on it).
    cuda::grow(select_how_, rows);
    cuda::grow(select_ids_, std::max<int64_t>(1, static_cast<int64_t>(ids_host_.size())));
    cuda::grow(select_keys_, rows * V);
    cuda::grow(select_out_, rows * n);
    cudaStream_t st = stream_.get();
    write(select_how_.data(), how_host_.data(), rows * static_cast<int64_t>(sizeof(cuda::DeviceChoiceRow)));
    if (!ids_host_.empty())
      write(select_ids_.data(), ids_host_.data(), static_cast<int64_t>(ids_host_.size() * sizeof(int32_t)));
    cuda::select_top_rows(logits, V, static_cast<int>(rows), select_how_.data(), select_ids_.data(), static_cast<int>(n),
                          select_keys_.data(), select_out_.data(), st);
    read(out, select_out_.data(), rows * n * static_cast<int64_t>(sizeof(TokenChoice)));
  }

  // Training (cuda_train.h).
  std::unique_ptr<BackendMatrix> trainable_matrix(int64_t rows, int64_t cols, bool identity) override {
    return train_.trainable_matrix(rows, cols, identity);
  }
  void ternarize(BackendMatrix& w, const float* latent) override { train_.ternarize(w, latent); }
  float weight_scale(const BackendMatrix& w) override {
    return cuda::is_trainable(w) ? train_.s_w(static_cast<const cuda::CudaTrainableMatrix&>(w)) : w.s_w;
  }
  void reserve_training(int64_t rows, int64_t max_cols) override {
    reserve_products(rows, max_cols);  // the forward's products take the inference path
    train_.reserve_training(rows, max_cols);
  }
  std::unique_ptr<BackendEmbeddings> float_embeddings(const float* table, int64_t rows, int64_t cols) override {
    auto e = std::make_unique<CudaEmbeddings>();
    e->rows = rows;
    e->cols = cols;
    e->type = GgmlType::F32;
    e->row_bytes = cols * 4;
    e->data = reinterpret_cast<const uint8_t*>(table);
    return e;
  }
  void bitlinear_backward(const BitLinearBackward& b) override { train_.bitlinear_backward(b); }
  void bitlinear_backwards(std::span<const BitLinearBackward> calls) override { train_.bitlinear_backwards(calls); }
  int64_t backward_operand_bytes(int64_t n, int64_t cols) const override { return train_.operand_bytes(n, cols); }
  void rmsnorm_backward(const float* x, const float* w, const float* dy, int64_t n, int64_t k, float eps, float* dx,
                        bool accumulate, float* dw) override {
    train_.rmsnorm_backward(x, w, dy, n, k, eps, dx, accumulate, dw);
  }
  void gated_backward(const GatedBackward& b) override { train_.gated_backward(b); }
  void glu_backward(const float* gv, const float* dm, int64_t n, int64_t I, float* dgv) override {
    train_.glu_backward(gv, dm, n, I, dgv);
  }
  void mlgru_scan_backward(const MlgruScanBackward& b) override { train_.mlgru_scan_backward(b); }
  void embed_backward(const int32_t* tokens, const float* dx, int64_t n, int64_t d, float* dtable) override {
    train_.embed_backward(tokens, dx, n, d, dtable);
  }
  double cross_entropy(float* logits, const int32_t* labels, int64_t n, int64_t V, float coef) override {
    return train_.cross_entropy(logits, labels, n, V, coef);
  }
  void adamw(const AdamWUpdate& u) override { train_.adamw(u); }
  double sum_squares(const float* x, int64_t n) override { return train_.sum_squares(x, n); }
  void form_input(const BitLinearInput& in, int64_t n, int64_t cols) override {
    if (!in.keep_m || (in.kind == BitLinearInput::Kind::Norm && in.add))
      throw Error("internal: form_input needs keep_m, and a Norm input without add");
    train_.form_input(in, cols, n);
  }

 private:
  // A group of identity matrices (gradient checks): the input formed on its own (the recurrence
  // scanned first), then RMSNorm and a float product each.
  void identity_bitlinear(std::span<const BitLinearCall> calls, const BitLinearInput& in, int64_t n) {
    if (in.kind == BitLinearInput::Kind::Recurrent) {
      mlgru_scan(*in.scan);
      BitLinearInput gated = in;
      gated.kind = BitLinearInput::Kind::Gated;
      gated.h = in.scan->h_out;
      return identity_bitlinear(calls, gated, n);
    }
    const BitLinearInput m = train_.form_input(in, calls[0].w->cols, n);
    train_.identity_products(calls, m.x, n);
  }

  // The quantised inputs of up to kMaxSharedInput products of rows x max_cols.
  void reserve_products(int64_t rows, int64_t max_cols) {
    if (rows <= rows_ && max_cols <= cols_) return;
    stream_.synchronize();  // no queued work may still use the scratch freed below,
    graphs_.clear();        // nor a recording name it
    rows_ = std::max(rows, rows_);
    cols_ = std::max(max_cols, cols_);
    for (Scratch& s : scratch_) {
      s.q = cuda::DeviceBuffer<int8_t>(rows_ * cuda::padded_cols(cols_));
      s.scale = cuda::DeviceBuffer<float>(rows_);
      s.sums = cuda::DeviceBuffer<int32_t>(rows_);
    }
  }
  void grow_dense_states(int64_t floats) {
    if (dense_states_.size() >= floats) return;
    stream_.synchronize();  // queued work may still use the old states
    graphs_.clear();
    dense_states_ = cuda::DeviceBuffer<float>(floats);
  }
  struct GraphDeleter {
    void operator()(cudaGraphExec_t e) const noexcept { cudaGraphExecDestroy(e); }
  };
  using GraphExec = std::unique_ptr<std::remove_pointer_t<cudaGraphExec_t>, GraphDeleter>;
  static constexpr size_t kMaxGraphs = 64;

  struct Scratch {
    cuda::DeviceBuffer<int8_t> q;  // [rows][padded_cols(k)] for an input of k columns
    cuda::DeviceBuffer<float> scale;
    cuda::DeviceBuffer<int32_t> sums;
  };
  cuda::DeviceInfo info_;
  cuda::Stream stream_;
  Scratch scratch_[kMaxSharedInput];
  cuda::DeviceBuffer<float> dense_states_;
  // select_top's scratch and staging.
  cuda::DeviceBuffer<cuda::DeviceChoiceRow> select_how_;
  cuda::DeviceBuffer<int32_t> select_ids_;
  cuda::DeviceBuffer<uint32_t> select_keys_;
  cuda::DeviceBuffer<TokenChoice> select_out_;
  std::vector<cuda::DeviceChoiceRow> how_host_;
  std::vector<int32_t> ids_host_;
  int64_t rows_ = 0, cols_ = 0;
  struct KeyHash {
    size_t operator()(const RecordingKey& k) const noexcept {
      return std::hash<uint64_t>{}(k.workspace * 0x9e3779b97f4a7c15ull ^ k.states * 0xc2b2ae3d27d4eb4full ^
                                   static_cast<uint64_t>(k.rows) << 2 ^ k.variant);
    }
  };
  std::unordered_map<RecordingKey, GraphExec, KeyHash> graphs_;  // destroyed before the stream
  std::unordered_map<void*, int64_t> sizes_;         // alloc()'s buffers
  cuda::CudaTrainer train_;  // after stream_, before which it is destroyed
};

}  // namespace

int cuda_device_index(const std::string& device) {
  if (device == "cuda") return 0;
  const std::string n = device.rfind("cuda:", 0) == 0 ? device.substr(5) : "";
  if (n.empty() || n.size() > 3 || !std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw Error("--device " + device + ": expected cuda or cuda:N with N a GPU index");
  return std::stoi(n);
}

std::unique_ptr<Backend> make_cuda_backend(const std::string& device, bool bf16_backward) {
  const int index = cuda_device_index(device);
  const std::string why = cuda::unavailable_reason(index);
  if (!why.empty()) throw Error("--device " + device + ": " + why);
  return std::make_unique<CudaBackend>(index, bf16_backward ? cuda::BackwardGemm::Bf16 : cuda::BackwardGemm::Fp32);
}

std::vector<std::string> describe_cuda_devices() {
  const std::string why = cuda::unavailable_reason(0);
  if (!why.empty()) return {"cuda: " + why};
  int count = 0;
  cuda::check(cudaGetDeviceCount(&count), "device count");
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    cuda::check(cudaGetDeviceProperties(&p, i), "device properties");
    out.push_back("cuda:" + std::to_string(i) + ": " + p.name + ", sm_" + std::to_string(p.major) + std::to_string(p.minor) +
                  ", " + std::to_string(p.multiProcessorCount) + " SMs, " + std::to_string(p.totalGlobalMem >> 20) + " MiB");
  }
  return out;
}

}  // namespace mmfree
