#!/usr/bin/env bash
# Resource estimate of the accelerator core with yosys (Debian's package; scripts/deps.sh):
# synth_xilinx for a 7-series part (LUTs, flip-flops, block RAMs, DSP48 blocks), per module.
# Usage: hw/synth/synth.sh [LANES]   (default 64; writes hw/synth/out/stat-LANES.txt and a per-module
# table, summary-LANES.md)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v yosys >/dev/null || { echo "mmfree: error: yosys is not installed (apt-get install yosys)" >&2; exit 1; }
lanes=${1:-64}
mkdir -p synth/out
srcs=(rtl/mmf_pkg.sv rtl/sdp_ram.sv rtl/sync_fifo.sv rtl/seq_div.sv rtl/seq_isqrt.sv rtl/sigmoid_pwl.sv rtl/act_buffer.sv
      rtl/weight_streamer.sv rtl/ternary_mv.sv rtl/norm_quant.sv rtl/eltwise.sv rtl/mmf_core.sv)
yosys -q -l "synth/out/synth-$lanes.log" -p "read_verilog -sv -I rtl ${srcs[*]};
  chparam -set LANES $lanes mmf_core; hierarchy -top mmf_core;
  synth_xilinx -family xc7 -top mmf_core;
  tee -o synth/out/stat-$lanes.txt stat" 2> "synth/out/warnings-$lanes.txt"
python3 synth/summary.py "synth/out/stat-$lanes.txt" | tee "synth/out/summary-$lanes.md"
