// The element-wise unit, q16 fixed point, five cycles per element (three vector reads through
// the one read port, the sigmoid table, the arithmetic and the write):
//   MLGRU     f = lb + (1 - lb) sigmoid(b); h = f h + silu(a) (1 - f)   (a = i, b = f, c = h, p = lb)
//   SILU_MUL  dst = silu(a) b                                           (silu(x) = x sigmoid(x))
//   ADD       dst = a + b, saturating
// Every product of two q16 values is rounded to nearest (mulq).
module eltwise
  import mmf_pkg::*;
(
  input  logic clk,
  input  logic rst,
  input  logic start,
  input  op_t op,
  input  logic [VAW-1:0] a,
  input  logic [VAW-1:0] b,
  input  logic [VAW-1:0] c,
  input  logic [VAW-1:0] dst,
  input  logic [PAW-1:0] p,
  input  logic [15:0] k,
  output logic busy,
  output logic [VAW-1:0] v_raddr,
  input  logic [31:0] v_rdata,
  output logic [PAW-1:0] p_raddr,
  input  logic [31:0] p_rdata,
  output logic v_we,
  output logic [VAW-1:0] v_waddr,
  output logic [31:0] v_wdata
);
  localparam logic signed [31:0] ONE = 32'sd65536;
  typedef enum logic [2:0] {IDLE, RA, RB, RC, SIG, CMP} st_t;
  st_t st;
  op_t op_r;
  logic [VAW-1:0] a_r, b_r, c_r, dst_r;
  logic [PAW-1:0] p_r;
  logic [15:0] k_r, e;
  logic signed [31:0] va, vb, vc, lb;

  function automatic logic signed [31:0] mulq(input logic signed [31:0] x, input logic signed [31:0] y);
    logic signed [63:0] m;
    m = x * y + 64'sd32768;
    return m[47:16];
  endfunction

  logic [16:0] sig_a, sig_b;
  sigmoid_pwl sa (.clk, .x(va), .y(sig_a));
  sigmoid_pwl sb (.clk, .x(vb), .y(sig_b));

  logic signed [31:0] silu_a, fg, hnew, out;
  logic signed [32:0] sum;
  always_comb begin
    silu_a = mulq(va, $signed({15'b0, sig_a}));
    fg = lb + mulq(ONE - lb, $signed({15'b0, sig_b}));
    hnew = mulq(fg, vc) + mulq(silu_a, ONE - fg);
    sum = 33'(va) + 33'(vb);
    unique case (op_r)
      OP_MLGRU: out = hnew;
      OP_SILU_MUL: out = mulq(silu_a, vb);
      default: out = sum[32] != sum[31] ? (sum[32] ? 32'sh8000_0000 : 32'sh7fff_ffff) : sum[31:0];
    endcase
  end

  assign busy = st != IDLE;
  assign p_raddr = p_r + e[PAW-1:0];
  always_comb begin
    unique case (st)
      RA: v_raddr = a_r + e[VAW-1:0];
      RB: v_raddr = b_r + e[VAW-1:0];
      default: v_raddr = c_r + e[VAW-1:0];
    endcase
  end
  assign v_we = st == CMP;
  assign v_waddr = (op_r == OP_MLGRU ? c_r : dst_r) + e[VAW-1:0];
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
          lb <= $signed(p_rdata);
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
