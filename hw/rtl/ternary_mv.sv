// The ternary matrix-vector unit: y[r] = sum_k W[r][k] q[k] for int8 q and W in {-1, 0, +1}.
// Each cycle it takes one beat of LANES 2-bit codes (TQ2_0's code: 0 -> -1, 1 -> 0, 2 -> +1),
// selects q, -q or 0 per lane and sums the LANES terms in an adder tree into an int32
// accumulator: no multiplier touches a weight. At the end of a row one multiplier applies the
// product's scale (once per row, not per weight) and the row is written to the vector memory.
module ternary_mv
#(
  parameter int LANES = 64,
  parameter int WAW = 8
) (
  input  logic clk,
  input  logic rst,
  input  logic start,
  input  logic [15:0] rows,
  input  logic [15:0] k,           // columns, a multiple of LANES
  input  logic [mmf_pkg::VAW-1:0] dst,
  input  logic raw,                // write the int32 sum instead of scale * sum
  input  logic [63:0] scale,       // Q24.40
  output logic busy,
  // weight beats from the streamer
  input  logic w_valid,
  input  logic [2*LANES-1:0] w_data,
  output logic w_ready,
  // the activation buffer
  output logic [WAW-1:0] q_raddr,
  input  logic [8*LANES-1:0] q_rdata,
  // results
  output logic y_we,
  output logic [mmf_pkg::VAW-1:0] y_addr,
  output logic [mmf_pkg::VW-1:0] y_data
);
  localparam int LB = $clog2(LANES);
  localparam int SW = 8 + LB + 1;  // bits of a beat's sum

  logic [15:0] beats_per_row, beat, row_in, row_out;
  logic [mmf_pkg::VAW-1:0] base;
  logic raw_r;
  logic [63:0] scale_r;

  // stage 1: a beat taken from the streamer, its activation word being read
  logic s1_valid, s1_first, s1_last;
  logic [2*LANES-1:0] s1_w;
  // stage 2: the row's accumulator
  logic signed [31:0] acc;
  // stage 3: a finished row, scaled and written
  logic s3_valid;
  logic signed [31:0] s3_acc;

  assign beats_per_row = k >> LB;
  assign w_ready = busy && (row_in != rows);
  assign q_raddr = beat[WAW-1:0];

  // Adder tree over the lanes: level 0 holds the selected terms.
  logic signed [SW-1:0] tree [LB+1][LANES];
  always_comb begin
    for (int l = 0; l <= LB; l++)
      for (int i = 0; i < LANES; i++) tree[l][i] = '0;
    for (int i = 0; i < LANES; i++) begin
      logic signed [SW-1:0] qv;
      qv = SW'($signed(q_rdata[8*i +: 8]));
      unique case (s1_w[2*i +: 2])
        2'd0: tree[0][i] = -qv;
        2'd2: tree[0][i] = qv;
        default: tree[0][i] = '0;  // code 1 is a zero weight; code 3 is never stored
      endcase
    end
    for (int l = 0; l < LB; l++)
      for (int i = 0; i < (LANES >> (l + 1)); i++) tree[l + 1][i] = tree[l][2 * i] + tree[l][2 * i + 1];
  end

  logic signed [31:0] acc_next;
  assign acc_next = (s1_first ? 32'sd0 : acc) + 32'(tree[LB][0]);

  // Scale: Q24.40 times the int32 sum, rounded to a v24 element.
  logic signed [96:0] prod;
  assign prod = $signed({s3_acc[31], s3_acc}) * $signed({1'b0, scale_r}) + (97'sd1 <<< 15);
  assign y_we = s3_valid;
  assign y_addr = base + row_out[mmf_pkg::VAW-1:0];
  assign y_data = raw_r ? mmf_pkg::VW'(s3_acc) : prod[mmf_pkg::VW+15:16];

  always_ff @(posedge clk) begin
    if (rst) begin
      busy <= 1'b0;
      s1_valid <= 1'b0;
      s3_valid <= 1'b0;
    end else if (start) begin
      busy <= 1'b1;
      beat <= '0;
      row_in <= '0;
      row_out <= '0;
      base <= dst;
      raw_r <= raw;
      scale_r <= scale;
      s1_valid <= 1'b0;
      s3_valid <= 1'b0;
    end else if (busy) begin
      s1_valid <= w_valid && w_ready;
      if (w_valid && w_ready) begin
        s1_w <= w_data;
        s1_first <= beat == 0;
        s1_last <= beat == beats_per_row - 1;
        if (beat == beats_per_row - 1) begin
          beat <= '0;
          row_in <= row_in + 1;
        end else begin
          beat <= beat + 1;
        end
      end
      s3_valid <= s1_valid && s1_last;
      if (s1_valid) acc <= acc_next;
      if (s1_valid && s1_last) s3_acc <= acc_next;
      if (s3_valid) begin
        row_out <= row_out + 1;
        if (row_out == rows - 1) busy <= 1'b0;
      end
    end
  end
endmodule
