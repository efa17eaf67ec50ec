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
// (y = (T q) / (s_x s_w)).
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

  // Runs fn(ctx), which enqueues ops. A backend that can record work may keep what fn enqueued under
  // `key` and replay it for an equal key without calling fn (a CUDA graph: one launch for a whole
  // decode step). fn must enqueue the same ops on the same memory each time for one key; the data in
  // that memory may change. Host backends just call fn.
  virtual void run_recorded(const RecordingKey& /*key*/, void (*fn)(void*), void* ctx) { fn(ctx); }
};

// What --device and --threads/--isa ask for.
struct DeviceOptions {
  std::string device = "cpu";  // ref | cpu | cuda | cuda:N
  int threads = 0;             // cpu: 0 = physical cores
  std::string isa;             // cpu: empty = the best this CPU has
};

// Throws Error naming the device when it is unknown, not built in, or not present.
std::unique_ptr<Backend> make_backend(const DeviceOptions& o);

// The backends built into this binary, one line each (`info --devices`).
std::vector<std::string> describe_backends();

}  // namespace mmfree
