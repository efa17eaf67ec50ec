#include "hw_program.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "util/error.h"

namespace mmfree::hw {

namespace {

void put_bits(std::vector<uint32_t>& w, int lsb, int width, uint64_t v) {
  for (int i = 0; i < width; ++i)
    if ((v >> i) & 1) w[(lsb + i) / 32] |= 1u << ((lsb + i) % 32);
}

// The core's memories (hw/rtl/mmf_core.sv defaults, as the simulator is built).
constexpr int64_t kVectorWords = 1 << 16, kParamWords = 1 << 15, kActWords = 256;

}  // namespace

std::vector<uint32_t> encode(const Instr& in) {
  std::vector<uint32_t> w((kInstrBits + 31) / 32, 0);
  int at = 0;
  const auto put = [&](int width, uint64_t v) {
    put_bits(w, at, width, v);
    at += width;
  };
  // instr_t is packed: its last field is the least significant.
  put(4, static_cast<uint64_t>(in.op));
  put(1, in.raw);
  for (uint16_t f : {in.a, in.b, in.c, in.dst, in.p, in.k, in.m}) put(16, f);
  put(32, in.wbase);
  put(32, in.invk);
  put(64, in.beta);
  return w;
}

namespace {
int64_t fixed(double x, int frac, int bits) {
  const double v = std::round(std::ldexp(x, frac)), top = std::ldexp(1.0, bits - 1);
  if (!(v < top)) return static_cast<int64_t>(top) - 1;  // NaN saturates high
  if (v < -top) return -static_cast<int64_t>(top);
  return static_cast<int64_t>(v);
}
}  // namespace

int64_t to_v24(double x) { return fixed(x, 24, 40); }
int32_t to_p24(double x) { return static_cast<int32_t>(fixed(x, 24, 32)); }

uint32_t inv_k_q32(int64_t k) { return static_cast<uint32_t>(std::llround(4294967296.0 / static_cast<double>(k))); }

uint64_t beta_q48(float s_w) {
  return static_cast<uint64_t>(std::llround(std::ldexp(1.0L, 48) / (127.0L * static_cast<long double>(s_w))));
}

std::vector<uint8_t> pack_weights(const int8_t* t, int64_t rows, int64_t cols) {
  if (cols % 4 != 0) throw Error("hw: a weight row of " + std::to_string(cols) + " is not a multiple of 4");
  std::vector<uint8_t> out(static_cast<size_t>(rows * cols / 4), 0);
  for (int64_t i = 0; i < rows * cols; ++i) {
    if (t[i] < -1 || t[i] > 1) throw Error("hw: weight " + std::to_string(i) + " is not ternary");
    out[static_cast<size_t>(i / 4)] |= static_cast<uint8_t>((t[i] + 1) << (2 * (i % 4)));
  }
  return out;
}

BlockLayout::BlockLayout(int64_t d_, int64_t I_, int64_t lanes_) : d(d_), I(I_), lanes(lanes_) {
  const std::string dims = "d " + std::to_string(d) + ", I " + std::to_string(I);
  if (d <= 0 || I <= 0 || d % lanes != 0 || I % lanes != 0)
    throw Error("hw: " + dims + " must be positive multiples of the core's " + std::to_string(lanes) + " lanes");
  if (vector_words() > kVectorWords || param_words() > kParamWords || std::max(d, I) > kActWords * lanes ||
      2 * I > 65535)
    throw Error("hw: a block of " + dims + " does not fit the core's memories");
}

uint32_t BlockLayout::matrix_base(int m) const {
  int64_t beats = 0;
  for (int j = 0; j < m; ++j) beats += rows(j) * cols(j) / lanes;
  return static_cast<uint32_t>(beats);
}

std::vector<Instr> block_program(const BlockLayout& L, const float (&s_w)[BlockLayout::kMatrices]) {
  const auto d = static_cast<uint16_t>(L.d), I = static_cast<uint16_t>(L.I);
  const uint32_t inv_d = inv_k_q32(L.d), inv_i = inv_k_q32(L.I);
  using P = BlockLayout;
  const auto norm = [&](uint16_t a, P::Param p, uint16_t dst) {
    return Instr{.op = Op::Norm, .a = a, .dst = dst, .p = L.param(p), .k = d, .invk = inv_d};
  };
  // QUANT then TMV: one BitLinear
  const auto bitlinear = [&](std::vector<Instr>& prog, uint16_t a, P::Param p, P::Matrix m, uint16_t dst) {
    const auto k = static_cast<uint16_t>(L.cols(m));
    prog.push_back({.op = Op::Quant, .a = a, .p = L.param(p), .k = k, .invk = k == d ? inv_d : inv_i,
                    .beta = beta_q48(s_w[m])});
    prog.push_back({.op = Op::Tmv, .dst = dst, .k = k, .m = static_cast<uint16_t>(L.rows(m)), .wbase = L.matrix_base(m)});
  };
  std::vector<Instr> prog;
  prog.push_back(norm(L.x(), P::AttnNorm, L.a()));
  bitlinear(prog, L.a(), P::INorm, P::Wi, L.i());
  bitlinear(prog, L.a(), P::FNorm, P::Wf, L.f());
  bitlinear(prog, L.a(), P::GNorm, P::Wg, L.g());
  prog.push_back({.op = Op::Mlgru, .a = L.i(), .b = L.f(), .c = L.h(), .p = L.param(P::LowerBound), .k = d});
  prog.push_back(norm(L.g(), P::GOutNorm, L.g()));
  prog.push_back({.op = Op::SiluMul, .a = L.h(), .b = L.g(), .dst = L.z(), .k = d});
  bitlinear(prog, L.z(), P::ONorm, P::Wo, L.y());
  prog.push_back({.op = Op::Add, .a = L.x(), .b = L.y(), .dst = L.x(), .k = d});
  prog.push_back(norm(L.x(), P::MlpNorm, L.a()));
  bitlinear(prog, L.a(), P::GateNorm, P::Wgate, L.gv());
  prog.push_back({.op = Op::SiluMul, .a = L.gv(), .b = static_cast<uint16_t>(L.gv() + I), .dst = L.t(), .k = I});
  bitlinear(prog, L.t(), P::DownNorm, P::Wdown, L.y());
  prog.push_back({.op = Op::Add, .a = L.x(), .b = L.y(), .dst = L.x(), .k = d});
  prog.push_back({.op = Op::End});
  return prog;
}

std::vector<Instr> head_program(const BlockLayout& L, int64_t vocab, float s_w, uint32_t wbase) {
  if (vocab <= 0 || vocab > 65535 || L.a() + vocab > kVectorWords)
    throw Error("hw: a vocabulary of " + std::to_string(vocab) + " logits does not fit the core's vector memory");
  const auto d = static_cast<uint16_t>(L.d);
  const uint32_t inv_d = inv_k_q32(L.d);
  return {{.op = Op::Norm, .a = L.x(), .dst = L.a(), .p = 0, .k = d, .invk = inv_d},
          {.op = Op::Quant, .a = L.a(), .p = d, .k = d, .invk = inv_d, .beta = beta_q48(s_w)},
          {.op = Op::Tmv, .dst = L.a(), .k = d, .m = static_cast<uint16_t>(vocab), .wbase = wbase},
          {.op = Op::End}};
}

}  // namespace mmfree::hw
