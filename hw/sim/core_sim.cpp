#include "core_sim.h"

#include <cstring>
#include <string>

#include "Vmmf_core.h"
#include "util/error.h"
#include "verilated.h"

namespace mmfree::hw {

namespace {
constexpr size_t kBeatBytes = kLanes / 4;
constexpr int kVectorBits = 40;  // mmf_pkg::VW
constexpr uint64_t kVectorMask = (uint64_t{1} << kVectorBits) - 1;
static_assert(sizeof(Vmmf_core::mem_rd_data) == kBeatBytes, "the model's beat width differs from kLanes");
}  // namespace

CoreSim::CoreSim() : ctx_(std::make_unique<VerilatedContext>()), top_(std::make_unique<Vmmf_core>(ctx_.get())) {
  top_->clk = 0;
  top_->rst = 1;
  top_->bw_num = 1;
  top_->bw_den = 0;  // unlimited until set_bandwidth
  top_->eval();
  for (int i = 0; i < 4; ++i) tick();
  top_->rst = 0;
  top_->eval();
}

CoreSim::~CoreSim() { top_->final(); }

void CoreSim::set_bandwidth(uint16_t num, uint16_t den) {
  if (num == 0) throw Error("hw: a memory bandwidth of 0 bytes per cycle");
  top_->bw_num = num;
  top_->bw_den = den;
}

void CoreSim::set_weights(std::vector<uint8_t> bytes) {
  bytes.resize((bytes.size() + kBeatBytes - 1) / kBeatBytes * kBeatBytes, 0x55);  // code 1: weight 0
  dram_ = std::move(bytes);
}

// One clock cycle. The memory request the core makes in a cycle is answered in the next one.
void CoreSim::tick() {
  const bool req = top_->mem_rd_en;
  const uint32_t addr = top_->mem_rd_addr;
  top_->clk = 1;
  top_->eval();
  top_->clk = 0;
  top_->mem_rd_valid = req;
  if (req) {
    const size_t at = static_cast<size_t>(addr) * kBeatBytes;
    if (at + kBeatBytes > dram_.size())
      throw Error("hw: the core read weight beat " + std::to_string(addr) + " past the end of memory");
    std::memcpy(&top_->mem_rd_data, dram_.data() + at, kBeatBytes);  // little-endian words
  }
  top_->eval();
}

void CoreSim::host_write(int sel, uint16_t addr, uint64_t data) {
  top_->host_we = 1;
  top_->host_sel = static_cast<uint8_t>(sel);
  top_->host_addr = addr;
  top_->host_wdata = data & kVectorMask;
  tick();
  top_->host_we = 0;
}

void CoreSim::write_vectors(uint16_t addr, const std::vector<int64_t>& v) {
  for (size_t i = 0; i < v.size(); ++i) host_write(0, static_cast<uint16_t>(addr + i), static_cast<uint64_t>(v[i]));
}

void CoreSim::write_params(uint16_t addr, const std::vector<int32_t>& v) {
  for (size_t i = 0; i < v.size(); ++i) host_write(1, static_cast<uint16_t>(addr + i), static_cast<uint32_t>(v[i]));
}

std::vector<int64_t> CoreSim::read_vectors(uint16_t addr, int64_t n) {
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    top_->host_raddr = static_cast<uint16_t>(addr + i);
    tick();
    // sign-extend the 40-bit word
    out[static_cast<size_t>(i)] = static_cast<int64_t>(top_->host_rdata << (64 - kVectorBits)) >> (64 - kVectorBits);
  }
  return out;
}

void CoreSim::load_program(const std::vector<Instr>& prog) {
  for (size_t i = 0; i < prog.size(); ++i) {
    const auto w = encode(prog[i]);
    for (size_t j = 0; j < w.size(); ++j) top_->host_iwdata[j] = w[j];
    host_write(2, static_cast<uint16_t>(i), 0);
  }
}

int64_t CoreSim::run(int64_t max_cycles) {
  profile_.clear();
  top_->start = 1;
  tick();
  top_->start = 0;
  int64_t cycles = 1;
  while (top_->busy) {
    if (cycles >= max_cycles) throw Error("hw: the core did not finish in " + std::to_string(max_cycles) + " cycles");
    const size_t pc = top_->pc_out;
    if (pc >= profile_.size()) profile_.resize(pc + 1, 0);
    ++profile_[pc];
    tick();
    ++cycles;
  }
  return cycles;
}

uint64_t CoreSim::last_scale() const { return top_->last_scale; }

}  // namespace mmfree::hw
