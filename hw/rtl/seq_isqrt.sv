// Integer square root by the digit-by-digit method, one result bit per cycle:
// r = floor(sqrt(x)) after RW cycles (x has 2 * RW bits).
module seq_isqrt #(
  parameter int RW = 48
) (
  input  logic clk,
  input  logic rst,
  input  logic start,
  input  logic [2*RW-1:0] x,
  output logic busy,
  output logic [RW-1:0] r
);
  logic [2*RW-1:0] rad;
  logic [RW+1:0] rem;  // stays below 4r + 1: RW + 2 bits
  logic [$clog2(RW+1)-1:0] left;
  logic [RW+4:0] trial;
  assign trial = {1'b0, rem, rad[2*RW-1 -: 2]} - {3'b0, r, 2'b01};
  always_ff @(posedge clk) begin
    if (rst) begin
      busy <= 1'b0;
    end else if (start) begin
      busy <= 1'b1;
      rad <= x;
      rem <= '0;
      r <= '0;
      left <= RW[$clog2(RW+1)-1:0];
    end else if (busy) begin
      rad <= rad << 2;
      if (!trial[RW+4]) begin
        rem <= trial[RW+1:0];
        r <= {r[RW-2:0], 1'b1};
      end else begin
        rem <= {rem[RW-1:0], rad[2*RW-1 -: 2]};  // the dropped top bits are zero
        r <= {r[RW-2:0], 1'b0};
      end
      left <= left - 1'b1;
      if (left == 1) busy <= 1'b0;
    end
  end
endmodule
