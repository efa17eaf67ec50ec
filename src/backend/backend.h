#pragma once
// The seam between the model and the hardware. The model (src/model/) says what to compute, op by
// op, on memory a backend owns; a backend (ref, cpu, later cuda) says how. Everything a backend
// needs to be fast (its weight layout, threads, prefetching, streams) stays behind this interface.
//
// Memory: activations, norms and states live in Buffers the backend allocates (device memory on a
// GPU); op arguments are pointers into them. Host data crosses only through write() and read().
// Ops may run asynchronously (in order); read() waits for the work before it.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "backend/select_top.h"
#include "kernels/ternary_format.h"
#include "model/embedding_table.h"

namespace mmfree {

class Backend;

// An allocation of a backend's memory, freed by that backend when the Buffer dies.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend* owner, void* data, int64_t bytes) : owner_(owner), data_(data), bytes_(bytes) {}
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();

  template <class T>
  T* as() const { return static_cast<T*>(data_); }
  int64_t bytes() const { return bytes_; }

 private:
  Backend* owner_ = nullptr;
  void* data_ = nullptr;
  int64_t bytes_ = 0;
};

// A ternary matrix [rows][cols] in the backend's own layout, with its exact per-tensor scale s_w
// (y = (T q) / (s_x s_w)); a trainable matrix's scale is read through Backend::weight_scale.
class BackendMatrix {
 public:
  virtual ~BackendMatrix() = default;
  int64_t rows = 0, cols = 0;
  float s_w = 1;
};

// The token embedding table as the backend reads it.
class BackendEmbeddings {
 public:
  virtual ~BackendEmbeddings() = default;
  int64_t rows = 0, cols = 0;
};

// One BitLinear of a group that reads the same input (the MLGRU's i, f, g; the GLU's gate): y
// [n][w.rows] = (T q) / (s_x s_w) with q, s_x the int8 quantisation of RMSNorm(m) * norm (SPEC.md).
struct BitLinearCall {
  const BackendMatrix* w = nullptr;
  const float* norm = nullptr;  // [w.cols], backend memory
  float* y = nullptr;           // [n][w.rows], backend memory
  // Training, where Backend::backward_operand_bytes offers it: receives the product's dequantised
  // input q / s_x as the backward's GEMMs read it (backward_operand_bytes(n, w.cols) bytes), for
  // BitLinearBackward::xq: the quantising pass writes it as it goes, and the backward does not
  // quantise m again. Ignored for identity matrices.
  void* keep_xq = nullptr;
};
constexpr int kMaxSharedInput = 4;

// The MLGRU recurrence over B sequences of T steps (SPEC.md): for each sequence b, state h =
// states + slots[b] * slot_stride, in time order: f = sigmoid(f_lin), f = lb + (1 - lb) f when lb
// is set, h = f h + silu(i) (1 - f); h_out[b][t] = h. Rows of i, f_lin and h_out are batch-major,
// [B*T][d]; h_out may alias i.
struct MlgruScan {
  const float* i = nullptr;
  const float* f_lin = nullptr;
  const float* lb = nullptr;  // [d] or null
  int64_t B = 0, T = 0, d = 0;
  float* states = nullptr;
  const int32_t* slots = nullptr;  // [B], backend memory
  int64_t slot_stride = 0;
  float* h_out = nullptr;
};

// How a group's input m [n][cols] is formed from the model's buffers: the element-wise work
// between two products, named so that a backend can fuse it with the quantisation (one pass on a
// GPU). Rows of x, add, g and h lie ld floats apart.
struct BitLinearInput {
  enum class Kind {
    Plain,  // m = x
    Norm,   // x += add (when add is set; x keeps the sum: the residual stream), m = RMSNorm(x) * w
    Gated,  // m = silu(h) * (RMSNorm(x) * w): the MLGRU's output gate (x holds g)
    Glu,    // m = silu(x[:, c]) * x[:, cols + c]: the GLU (x holds [gate, v])
    // The MLGRU recurrence *scan advances its states, then m = silu(h) * (RMSNorm(x) * w) with h the
    // new states: the recurrence and the output gate (x holds g). scan->h_out receives h unless the
    // backend fuses the two (it may then leave h_out alone).
    Recurrent,
  };
  Kind kind = Kind::Plain;
  float* x = nullptr;
  int64_t ld = 0;
  const float* add = nullptr;  // Norm
  const float* h = nullptr;    // Gated
  const float* w = nullptr;    // Norm, Gated, Recurrent: [cols]
  float eps = 1e-6f;           // Norm, Gated, Recurrent
  const MlgruScan* scan = nullptr;  // Recurrent: rows of x are its B*T rows
  // What training keeps for the backward (null for inference): keep_m [n][cols] receives m;
  // keep_x [n][cols] (Norm) receives x after the add. With keep_m set, Recurrent is not allowed
  // (training scans with mlgru_scan and feeds h to a Gated input).
  float* keep_m = nullptr;
  float* keep_x = nullptr;
};

// ---- Training (SPEC.md, Training). The forward is the ops above on trainable matrices, keeping
// what the backward needs (BitLinearInput::keep_*); these are the backward ops and the optimizer.
// Gradients are added into (`+=`) unless an op says it writes.

// A BitLinear's backward (straight-through estimators for both quantisers): for y = BitLinear(m),
// dy [n][rows]: dw [rows][cols] += dy^T (q / s_x); du = dy T / s_w; dnorm [cols] += and dm [n][cols]
// (written, or added to when accumulate) from the RMSNorm backward of du. With identity quantisers
// q / s_x is RMSNorm(m) * norm itself and T / s_w the latent weights.
struct GluBackward;
struct BitLinearBackward {
  const BackendMatrix* w = nullptr;  // a trainable matrix
  const float* norm = nullptr;
  const float* m = nullptr;   // [n][cols]: the product's input, as kept
  const float* dy = nullptr;  // [n][rows]; unused when glu is set
  int64_t n = 0;
  float* dm = nullptr;
  bool accumulate = false;
  float* dw = nullptr;
  float* dnorm = nullptr;
  // dy is the GLU's backward (the matrix is the GLU's [gate, v] projection, rows = 2 glu->I): named
  // so that a backend can form it straight into its GEMMs' operand (one pass over dy fewer, and none
  // in float on a GPU); backends that do not fuse it run glu_backward into glu->dgv first.
  const GluBackward* glu = nullptr;
  // The dequantised input as a forward call's keep_xq kept it from this m (null: formed from m).
  const void* xq = nullptr;
  // dy holds the gradient in the backend's backward operand form (backward_operand_bytes' element:
  // floats on the host backends, bf16 for the CUDA backend's bf16 GEMMs), as a producer asked for
  // it wrote it (MlgruScanBackward / GatedBackward::formed): no conversion pass over dy.
  bool dy_formed = false;
};

// For m = silu(gv[:, c]) * gv[:, I + c] (gv [n][2I]): the gradient at gv from dz [n][I] (glu_backward),
// where a backend that does not fuse it writes it: dgv [n][2I].
struct GluBackward {
  const float* gv = nullptr;
  const float* dz = nullptr;
  int64_t I = 0;
  float* dgv = nullptr;
};
// Throws Error when b.glu is set and its width does not match b's matrix (rows = 2 I).
void check_glu(const BitLinearBackward& b);

// The MLGRU recurrence's backward over B sequences of T steps, each starting from a zero state,
// given the forward's i, f_lin, h (as MlgruScan wrote them) and dh, the gradient at h from the
// layer's output: di and df_lin written [B*T][d]; dlb [d] += (when lb is set).
struct MlgruScanBackward {
  const float *i = nullptr, *f_lin = nullptr, *h = nullptr, *lb = nullptr, *dh = nullptr;
  int64_t B = 0, T = 0, d = 0;
  float *di = nullptr, *df_lin = nullptr, *dlb = nullptr;
  // di and df_lin written in the backward operand form (BitLinearBackward::dy_formed) into their
  // float-sized buffers, where backward_operand_bytes offers one: only their BitLinears read them.
  bool formed = false;
};

// The backward of m = silu(h) * (RMSNorm(g) * w) (the Gated input): dh and dg written, dw +=.
struct GatedBackward {
  const float *h = nullptr, *g = nullptr, *w = nullptr, *dm = nullptr;
  int64_t n = 0, d = 0;
  float eps = 1e-6f;
  float *dh = nullptr, *dg = nullptr, *dw = nullptr;
  bool formed = false;  // dg in the backward operand form, as MlgruScanBackward::formed
};

// One AdamW update of n parameters, PyTorch's order of operations (torch.optim.AdamW):
//   p *= decay;  m = lerp(m, g, 1 - b1);  v = b2 v + (1 - b2) g g;
//   p += (-step_size m) / (sqrt(v) / bc2_sqrt + eps)
struct AdamWUpdate {
  float* p = nullptr;
  const float* g = nullptr;
  float *m = nullptr, *v = nullptr;
  int64_t n = 0;
  float decay = 1, step_size = 0, bc2_sqrt = 1, one_minus_b1 = 0, b2 = 0, one_minus_b2 = 0, eps = 0;
  // The gradient clipping's coefficient: the update reads g * grad_scale (rounded as a separate
  // scaling pass over the gradients would have stored it), which saves that pass.
  float grad_scale = 1;
};

// What identifies a recorded op sequence (Backend::run_recorded): the memory it runs on (ids that
// are never reused, unlike addresses), the rows, and the caller's variant bits. Compared whole, so
// two different sequences never share a recording.
struct RecordingKey {
  uint64_t workspace = 0, states = 0;
  int64_t rows = 0;
  uint32_t variant = 0;
  bool operator==(const RecordingKey&) const = default;
};

class Backend {
 public:
  Backend() = default;
  // Buffers and weights point back at their backend: it never moves.
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;
  virtual ~Backend() = default;
  // "ref", "cpu", "cuda:0": what --device names it.
  virtual std::string name() const = 0;
  // One line for `info --devices`: instruction set, threads, the GPU's name and memory.
  virtual std::string description() const = 0;
  // True when backend memory is host memory that the caller may read and write directly.
  virtual bool host_memory() const = 0;

  // Memory. alloc() gives zeroed memory aligned for any op.
  virtual Buffer alloc(int64_t bytes) = 0;
  virtual void write(void* dst, const void* host, int64_t bytes) = 0;
  virtual void read(void* host, const void* src, int64_t bytes) = 0;
  virtual void fill_zero(void* dst, int64_t bytes) = 0;
  virtual void copy(void* dst, const void* src, int64_t bytes) = 0;
  // The most device memory this backend held at once (weights, buffers, scratch), in bytes; -1 for
  // backends whose memory is the host's (the process's peak RSS says it there).
  virtual int64_t peak_device_bytes() const { return -1; }
  // The memory's streaming read rate in GB/s over a buffer of `bytes` (the roofline bench holds
  // decoding against), measured now.
  virtual double read_bandwidth_gbs(int64_t bytes) = 0;
  // Frees what alloc() gave (Buffer's destructor calls it).
  virtual void free(void* data) noexcept = 0;

  // Weights, taken once when a model is planned. The host bytes of a packed matrix or an
  // embedding table (a mapped model file) must outlive what is made from them.
  virtual std::unique_ptr<BackendMatrix> upload_matrix(const TernaryMatrix& w, float s_w) = 0;
  virtual std::unique_ptr<BackendEmbeddings> upload_embeddings(const EmbeddingTable& table) = 0;
  // Rows of a forward call that give full speed: longer prompts run in chunks of this many (so
  // memory does not grow with the prompt) at no cost in speed.
  virtual int64_t prefill_rows() const { return 256; }
  // Room for the ops' own scratch: up to `rows` rows of up to max_cols inputs per BitLinear call.
  // Called once per plan (ops allocate nothing).
  virtual void reserve(int64_t rows, int64_t max_cols) = 0;

  // x [n][cols] = rows `tokens` [n] (backend memory, each in [0, table.rows)).
  virtual void embed(const BackendEmbeddings& table, const int32_t* tokens, int64_t n, float* x) = 0;
  // The BitLinears of `calls` (1 to kMaxSharedInput) on one input, n rows.
  virtual void bitlinear(std::span<const BitLinearCall> calls, const BitLinearInput& in, int64_t n) = 0;
  // The integer product alone: acc[t][o] = sum_i T[o][i] q[t][i] for q [n][w.cols] int8. Every
  // backend's sums equal ref's bit for bit (tests, bench-kernel).
  virtual void ternary_product(const BackendMatrix& w, const int8_t* q, int64_t n, int32_t* acc) = 0;
  virtual void mlgru_scan(const MlgruScan& s) = 0;
  // For each row r < how.size() of logits [rows][V] (backend memory), the min(k, V) most likely
  // tokens after row r's penalty and temperature (backend/select_top.h), into out [r][k] (host
  // memory), with select_top_host's values and order. Waits for the work before it. This default
  // reads the logits back and selects on the host; a device selects where they are.
  virtual void select_top(const float* logits, int64_t V, std::span<const ChoiceRow> how, int64_t k, TokenChoice* out);

  // Runs fn(ctx), which enqueues ops. A backend that can record work may keep what fn enqueued under
  // `key` and replay it for an equal key without calling fn (a CUDA graph: one launch for a whole
  // decode step). fn must enqueue the same ops on the same memory each time for one key; the data in
  // that memory may change. Host backends just call fn.
  virtual void run_recorded(const RecordingKey& /*key*/, void (*fn)(void*), void* ctx) { fn(ctx); }

  // ---- Training. Backends that do not train yet throw Error naming themselves.
  // A matrix whose weights come from latent floats, quantised again by ternarize() each step; the
  // products (bitlinear) and bitlinear_backward take it. identity: no quantisers (RMSNorm + a float
  // linear layer, for gradient checks against finite differences).
  virtual std::unique_ptr<BackendMatrix> trainable_matrix(int64_t rows, int64_t cols, bool identity);
  // w's weights from latent [rows][cols] (backend memory): ternary codes and s_w (SPEC.md), or the
  // latent weights themselves for an identity matrix.
  virtual void ternarize(BackendMatrix& w, const float* latent);
  // w's s_w as its last ternarize() made it (a device backend may compute it there and wait for it).
  virtual float weight_scale(const BackendMatrix& w) { return w.s_w; }
  // Scratch for the backward of up to `rows` rows of up to max_cols inputs (once per plan).
  virtual void reserve_training(int64_t rows, int64_t max_cols);
  // Bytes of one BitLinearCall::keep_xq for n rows of cols inputs; 0 where the backend does not keep
  // them (it then quantises m again in the backward) nor takes a formed dy (BitLinearBackward::dy_formed).
  virtual int64_t backward_operand_bytes(int64_t /*n*/, int64_t /*cols*/) const { return 0; }
  // The input of a BitLinear group alone, without products: m [n][cols] formed as `in` says into
  // in.keep_m (Kind::Norm without `add`; not Recurrent). Training recomputes in its backward what
  // its forward did not keep (TrainBuffers' recompute).
  virtual void form_input(const BitLinearInput& in, int64_t n, int64_t cols);
  // An embedding table that is a F32 tensor [rows][cols] in this backend's memory (the latent
  // embeddings of a ParameterArena), read in place by embed(): it sees each step's values.
  virtual std::unique_ptr<BackendEmbeddings> float_embeddings(const float* table, int64_t rows, int64_t cols);
  virtual void bitlinear_backward(const BitLinearBackward& b);
  // The backwards of BitLinears that read one input (the MLGRU's i, f, g): the calls share m, n and
  // dm; the first writes dm or adds to it as its accumulate says, the others add (accumulate set).
  // This default runs them one by one; a backend may run their RMSNorm backwards as one pass over m.
  virtual void bitlinear_backwards(std::span<const BitLinearBackward> calls);
  // For y = RMSNorm(x) * w over n rows of k: dx = (written, or added to when accumulate), dw +=.
  virtual void rmsnorm_backward(const float* x, const float* w, const float* dy, int64_t n, int64_t k, float eps,
                                float* dx, bool accumulate, float* dw);
  virtual void gated_backward(const GatedBackward& b);
  // For m = silu(gv[:, c]) * gv[:, I + c]: dgv [n][2I] written from dm [n][I].
  virtual void glu_backward(const float* gv, const float* dm, int64_t n, int64_t I, float* dgv);
  virtual void mlgru_scan_backward(const MlgruScanBackward& b);
  // The backward of embed() on a F32 table [rows][d]: dtable rows += dx rows, in row order
  // (deterministic).
  virtual void embed_backward(const int32_t* tokens, const float* dx, int64_t n, int64_t d, float* dtable);
  // Next-token cross-entropy on logits [n][V], turned in place into d(coef * NLL)/d(logits); rows
  // whose label is -1 are unlabelled (no loss, zero gradient). Returns the summed NLL (double).
  virtual double cross_entropy(float* logits, const int32_t* labels, int64_t n, int64_t V, float coef);
  virtual void adamw(const AdamWUpdate& u);
  virtual double sum_squares(const float* x, int64_t n);  // accumulated in double

 protected:
  // b's dy for a backend that does not fuse the GLU's backward: b.dy, or glu_backward run into
  // b.glu->dgv. Throws Error when the GLU's width does not match the matrix.
  const float* glu_dy(const BitLinearBackward& b);

 private:
  [[noreturn]] void not_trained() const;
};

// What --device and --threads/--isa ask for.
struct DeviceOptions {
  std::string device = "cpu";  // ref | cpu | cuda | cuda:N
  int threads = 0;             // cpu: 0 = physical cores
  std::string isa;             // cpu: empty = the best this CPU has
  // Training's backward GEMMs: "bf16" (operands rounded to bf16, float sums; cuda only) or "fp32";
  // empty = the device's default (cuda: bf16, ref and cpu: fp32).
  std::string backward_gemm = {};
};

// Throws Error naming the device when it is unknown, not built in, or not present.
std::unique_ptr<Backend> make_backend(const DeviceOptions& o);

// The backends built into this binary, one line each (`info --devices`).
std::vector<std::string> describe_backends();

}  // namespace mmfree
