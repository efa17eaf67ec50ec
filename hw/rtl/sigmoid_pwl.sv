// sigmoid(x) for a v24 x by linear interpolation in a 2048-entry table over [-16, 16)
// (segments of 1/64; outside, 0 or 1). Error bound: interpolation h^2/8 max|sigmoid''|
// = 2.94e-6, table rounding 2^-25, result rounding 2^-25: |y - sigmoid(x)| <= 3.0e-6
// (docs/HARDWARE.md). One cycle of latency (the table is a registered ROM, 2048 x 42 bits).
module sigmoid_pwl (
  input  logic clk,
  input  logic signed [39:0] x,     // v24
  output logic [24:0] y             // v24, 0 ..= 2^24
);
`include "sigmoid_table.svh"
  logic [39:0] off;                 // x + 16, v24
  logic [41:0] entry;
  logic [17:0] frac;                // position inside the segment, 2^-18 steps
  logic lo, hi;
  assign off = x + 40'sd268435456;
  always_ff @(posedge clk) begin
    lo <= x < -40'sd268435456;
    hi <= x >= 40'sd268435456;
    entry <= sigmoid_table(off[28:18]);
    frac <= off[17:0];
  end
  logic [35:0] step;
  assign step = 36'(entry[16:0]) * 36'(frac) + 36'd131072;
  assign y = lo ? 25'd0 : hi ? 25'd16777216 : entry[41:17] + 25'(step >> 18);
endmodule
