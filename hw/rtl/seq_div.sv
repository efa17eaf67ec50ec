// Unsigned restoring divider, one quotient bit per cycle: q = floor(n / d) after NW cycles.
// Used a few times per vector (never per weight), so one slow divider is enough.
module seq_div #(
  parameter int NW = 96,
  parameter int DW = 64
) (
  input  logic clk,
  input  logic rst,
  input  logic start,
  input  logic [NW-1:0] n,
  input  logic [DW-1:0] d,
  output logic busy,
  output logic [NW-1:0] q
);
  logic [NW-1:0] num;
  logic [DW-1:0] den;
  logic [DW:0] rem;
  logic [$clog2(NW+1)-1:0] left;
  logic [DW+1:0] trial;
  assign trial = {rem, num[NW-1]} - {1'b0, den};
  always_ff @(posedge clk) begin
    if (rst) begin
      busy <= 1'b0;
    end else if (start) begin
      busy <= 1'b1;
      num <= n;
      den <= d;
      rem <= '0;
      q <= '0;
      left <= NW[$clog2(NW+1)-1:0];
    end else if (busy) begin
      num <= num << 1;
      if (!trial[DW+1]) begin
        rem <= trial[DW:0];
        q <= {q[NW-2:0], 1'b1};
      end else begin
        rem <= {rem[DW-1:0], num[NW-1]};
        q <= {q[NW-2:0], 1'b0};
      end
      left <= left - 1'b1;
      if (left == 1) busy <= 1'b0;
    end
  end
endmodule
