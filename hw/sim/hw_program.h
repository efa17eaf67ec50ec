#pragma once
// What the host gives the accelerator core (hw/rtl): v24 vectors, p24 parameters, packed 2-bit weights and the
// instructions of a block program (docs/HARDWARE.md). Pure C++, no simulator.
#include <cstdint>
#include <vector>

namespace mmfree::hw {

// Ops of hw/rtl/mmf_pkg.sv.
enum class Op : uint8_t { End = 0, Norm = 1, Quant = 2, Tmv = 3, Mlgru = 4, SiluMul = 5, Add = 6 };

// One instruction (mmf_pkg::instr_t); field meanings there.
struct Instr {
  Op op = Op::End;
  bool raw = false;
  uint16_t a = 0, b = 0, c = 0, dst = 0, p = 0, k = 0, m = 0;
  uint32_t wbase = 0;  // in beats
  uint32_t invk = 0;   // Q0.32
  uint64_t beta = 0;   // Q0.48
};
constexpr int kInstrBits = 245;
// The instruction as the 245-bit word of instr_t, in 32-bit words, least significant first.
std::vector<uint32_t> encode(const Instr& in);

// v24: a vector element, signed Q16.24 in 40 bits; p24: a norm weight or lower bound, signed
// Q8.24 in 32 bits (|value| < 128). Both rounded to nearest and saturated.
int64_t to_v24(double x);
inline double from_v24(int64_t v) { return static_cast<double>(v) / 16777216.0; }
int32_t to_p24(double x);
inline double from_p24(int32_t v) { return v / 16777216.0; }
uint32_t inv_k_q32(int64_t k);          // round(2^32 / k)
uint64_t beta_q48(float s_w);           // round(2^48 / (127 s_w))
inline double from_scale(uint64_t s) { return static_cast<double>(s) / 1099511627776.0; }  // Q24.40

// rows x cols weights in {-1, 0, 1} as the core streams them: 2-bit codes t + 1 (TQ2_0's code),
// four per byte, weight j of a row at bits 2(j % 4) of byte j / 4, rows one after another.
std::vector<uint8_t> pack_weights(const int8_t* t, int64_t rows, int64_t cols);

// Where one block keeps its vectors (vector memory), parameters (parameter memory) and weights
// (external memory, in beats of lanes / 4 bytes).
struct BlockLayout {
  int64_t d = 0, I = 0, lanes = 0;
  // vector memory
  uint16_t x() const { return 0; }
  uint16_t a() const { return w(1 * d); }
  uint16_t i() const { return w(2 * d); }
  uint16_t f() const { return w(3 * d); }
  uint16_t g() const { return w(4 * d); }
  uint16_t h() const { return w(5 * d); }
  uint16_t z() const { return w(6 * d); }
  uint16_t y() const { return w(7 * d); }
  uint16_t gv() const { return w(8 * d); }
  uint16_t t() const { return w(8 * d + 2 * I); }
  int64_t vector_words() const { return 8 * d + 3 * I; }
  // parameter memory: the per-layer vectors in this order
  enum Param { AttnNorm, INorm, FNorm, GNorm, GOutNorm, ONorm, MlpNorm, GateNorm, LowerBound, DownNorm, kParams };
  uint16_t param(Param p) const { return w(p * d); }  // DownNorm (I long) is last
  int64_t param_words() const { return 9 * d + I; }
  // external memory: i, f, g, o, gate, down one after another
  enum Matrix { Wi, Wf, Wg, Wo, Wgate, Wdown, kMatrices };
  int64_t rows(int m) const { return m == Wgate ? 2 * I : d; }
  int64_t cols(int m) const { return m == Wdown ? I : d; }
  uint32_t matrix_base(int m) const;  // in beats; matrix_base(kMatrices) is the block's total

  // Throws Error unless d and I are multiples of lanes and everything fits the core's memories.
  BlockLayout(int64_t d, int64_t I, int64_t lanes);

 private:
  static uint16_t w(int64_t v) { return static_cast<uint16_t>(v); }
};

// The program of one block (SPEC.md, block l); s_w: the six matrices' scales.
std::vector<Instr> block_program(const BlockLayout& L, const float (&s_w)[BlockLayout::kMatrices]);

// The LM head after the last block: logits = BitLinear_lm_head(RMSNorm(x) * model.norm.weight),
// the final norm's weight at parameter 0 and the head's norm weight at parameter d, the V logits
// written from vector address L.a(), the head's weights at beat wbase.
std::vector<Instr> head_program(const BlockLayout& L, int64_t vocab, float s_w, uint32_t wbase);

}  // namespace mmfree::hw
