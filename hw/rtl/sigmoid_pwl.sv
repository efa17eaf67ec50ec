// sigmoid(x) for q16 x by linear interpolation in a 512-entry table over [-16, 16) (segments of
// 1/16; outside, 0 or 1). Error bound: interpolation h^2/8 max|sigmoid''| = 4.70e-5, table
// rounding 2^-17, result rounding 2^-17: |y - sigmoid(x)| <= 6.3e-5 (docs/HARDWARE.md).
// One cycle of latency (the table is a registered ROM).
module sigmoid_pwl (
  input  logic clk,
  input  logic signed [31:0] x,     // q16
  output logic [16:0] y             // q16, 0 ..= 65536
);
`include "sigmoid_table.svh"
  logic [31:0] off;                 // x + 16 in q16
  logic [27:0] entry;
  logic [11:0] frac;
  logic lo, hi;
  assign off = x + 32'sd1048576;
  always_ff @(posedge clk) begin
    lo <= x < -32'sd1048576;
    hi <= x >= 32'sd1048576;
    entry <= SIGMOID_TABLE[off[20:12]];
    frac <= off[11:0];
  end
  logic [22:0] step;
  assign step = 23'(entry[10:0]) * 23'(frac) + 23'd2048;
  assign y = lo ? 17'd0 : hi ? 17'd65536 : entry[27:11] + 17'(step >> 12);
endmodule
