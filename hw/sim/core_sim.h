#pragma once
// The Verilator model of hw/rtl/mmf_core.sv driven cycle by cycle: a host port, an external
// weight memory that answers one cycle after each request, and a cycle count.
#include <cstdint>
#include <memory>
#include <vector>

#include "hw_program.h"

class Vmmf_core;
class VerilatedContext;

namespace mmfree::hw {

constexpr int kLanes = 64;  // the LANES the simulator is built with (hw/CMakeLists.txt)

class CoreSim {
 public:
  CoreSim();
  ~CoreSim();
  CoreSim(const CoreSim&) = delete;
  CoreSim& operator=(const CoreSim&) = delete;

  // Memory bandwidth in bytes per cycle, as num / den (at most one beat, kLanes / 4 bytes, is used).
  void set_bandwidth(uint16_t num, uint16_t den);
  // External memory: whole beats of kLanes / 4 bytes (the tail is padded with zero codes).
  void set_weights(std::vector<uint8_t> bytes);

  void write_vectors(uint16_t addr, const std::vector<int64_t>& v);  // v24
  void write_params(uint16_t addr, const std::vector<int32_t>& v);   // p24
  std::vector<int64_t> read_vectors(uint16_t addr, int64_t n);       // v24
  void load_program(const std::vector<Instr>& prog);

  // Runs the loaded program to its END; returns the cycles from start to done.
  int64_t run(int64_t max_cycles = int64_t{1} << 34);
  // The last run's cycles spent on each instruction (fetch and issue included), by index.
  const std::vector<int64_t>& profile() const { return profile_; }
  uint64_t last_scale() const;  // Q24.40 scale of the last QUANT

 private:
  void tick();
  void host_write(int sel, uint16_t addr, uint64_t data);

  std::unique_ptr<VerilatedContext> ctx_;
  std::unique_ptr<Vmmf_core> top_;
  std::vector<uint8_t> dram_;
  std::vector<int64_t> profile_;
};

}  // namespace mmfree::hw
