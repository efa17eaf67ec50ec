// The element-wise unit, v24 fixed point (lower bounds p24), five cycles per element (three vector reads through
// the one read port, the sigmoid table, the arithmetic and the write):
//   MLGRU     f = lb + (1 - lb) sigmoid(b); h = f h + silu(a) (1 - f)   (a = i, b = f, c = h, p = lb)
//   SILU_MUL  dst = silu(a) b                                           (silu(x) = x sigmoid(x))
//   ADD       dst = a + b, saturating
// Every product of two v24 values is rounded to nearest (mulv).
module eltwise
(
  input  logic clk,
  input  logic rst,
  input  logic start,
  input  logic [3:0] op,        // an op_t
  input  logic [mmf_pkg::VAW-1:0] a,
  input  logic [mmf_pkg::VAW-1:0] b,
  input  logic [mmf_pkg::VAW-1:0] c,
  input  logic [mmf_pkg::VAW-1:0] dst,
  input  logic [mmf_pkg::PAW-1:0] p,
  input  logic [15:0] k,
  output logic busy,
  output logic [mmf_pkg::VAW-1:0] v_raddr,
  input  logic [mmf_pkg::VW-1:0] v_rdata,
  output logic [mmf_pkg::PAW-1:0] p_raddr,
  input  logic [31:0] p_rdata,
  output logic v_we,
  output logic [mmf_pkg::VAW-1:0] v_waddr,
  output logic [mmf_pkg::VW-1:0] v_wdata
);
  localparam logic signed [mmf_pkg::VW-1:0] ONE = mmf_pkg::VW'(1) <<< 24;
  localparam logic signed [2*mmf_pkg::VW-1:0] HALF = (2*mmf_pkg::VW)'(1) <<< 23;
  typedef enum logic [2:0] {IDLE, RA, RB, RC, SIG, CMP} st_t;
  st_t st;
  logic [3:0] op_r;
  logic [mmf_pkg::VAW-1:0] a_r, b_r, c_r, dst_r;
  logic [mmf_pkg::PAW-1:0] p_r;
  logic [15:0] k_r, e;
  logic signed [mmf_pkg::VW-1:0] va, vb, vc, lb;

  function automatic logic signed [mmf_pkg::VW-1:0] mulv(input logic signed [mmf_pkg::VW-1:0] x, input logic signed [mmf_pkg::VW-1:0] y);
    logic signed [2*mmf_pkg::VW-1:0] m;
    m = x * y + HALF;
    mulv = m[mmf_pkg::VW+23:24];
  endfunction

  logic [24:0] sig_a, sig_b;
  sigmoid_pwl sig_of_a (.clk, .x(va), .y(sig_a));
  sigmoid_pwl sig_of_b (.clk, .x(vb), .y(sig_b));

  logic signed [mmf_pkg::VW-1:0] sa, sb;
  assign sa = $signed(mmf_pkg::VW'(sig_a));
  assign sb = $signed(mmf_pkg::VW'(sig_b));

  logic signed [mmf_pkg::VW-1:0] silu_a, fg, hnew, out;
  logic signed [mmf_pkg::VW:0] sum;
  always_comb begin
    silu_a = mulv(va, sa);
    fg = lb + mulv(ONE - lb, sb);
    hnew = mulv(fg, vc) + mulv(silu_a, ONE - fg);
    sum = (mmf_pkg::VW+1)'(va) + (mmf_pkg::VW+1)'(vb);
    unique case (op_r)
      mmf_pkg::OP_MLGRU: out = hnew;
      mmf_pkg::OP_SILU_MUL: out = mulv(silu_a, vb);
      default: out = sum[mmf_pkg::VW] != sum[mmf_pkg::VW-1] ? {sum[mmf_pkg::VW], {(mmf_pkg::VW-1){~sum[mmf_pkg::VW]}}} : sum[mmf_pkg::VW-1:0];
    endcase
  end

  assign busy = st != IDLE;
  assign p_raddr = p_r + e[mmf_pkg::PAW-1:0];
  always_comb begin
    unique case (st)
      RA: v_raddr = a_r + e[mmf_pkg::VAW-1:0];
      RB: v_raddr = b_r + e[mmf_pkg::VAW-1:0];
      default: v_raddr = c_r + e[mmf_pkg::VAW-1:0];
    endcase
  end
  assign v_we = st == CMP;
  assign v_waddr = (op_r == mmf_pkg::OP_MLGRU ? c_r : dst_r) + e[mmf_pkg::VAW-1:0];
  assign v_wdata = out;

  always_ff @(posedge clk) begin
    if (rst) begin
      st <= IDLE;
    end else begin
      unique case (st)
        IDLE: if (start) begin
          st <= RA;
          op_r <= op;
          a_r <= a;
          b_r <= b;
          c_r <= c;
          dst_r <= dst;
          p_r <= p;
          k_r <= k;
          e <= '0;
        end
        RA: st <= RB;
        RB: begin
          va <= $signed(v_rdata);
          lb <= mmf_pkg::VW'($signed(p_rdata));  // p24 -> v24
          st <= RC;
        end
        RC: begin
          vb <= $signed(v_rdata);
          st <= SIG;
        end
        SIG: begin
          vc <= $signed(v_rdata);
          st <= CMP;
        end
        CMP: begin
          e <= e + 1;
          st <= e == k_r - 1 ? IDLE : RA;
        end
        default: st <= IDLE;
      endcase
    end
  end
endmodule
