// RMSNorm and int8 quantization of one vector (SPEC.md, BitLinear steps 1-2), two passes over it.
// Pass 1 reads a[i] (v24) and the norm weight w[i] (p24) and keeps sum(a^2) and max|a w|. Between the passes
// one square root and one or two divisions (sequential units, once per vector) give
// r = 1 / rms(a) and, for quantization, R = 127 / max|a w|. Pass 2 writes either the normalised
// vector a w r (NORM, v24 out) or q = round(127 a w / max|a w|) (QUANT, int8 out) together with
// the product's scale max|u| / (127 s_w) = max|a w| r beta. q does not depend on r at all, so the
// codes come from an integer ratio, not from a chain of roundings.
module norm_quant
(
  input  logic clk,
  input  logic rst,
  input  logic start,
  input  logic quant,
  input  logic [mmf_pkg::VAW-1:0] a,
  input  logic [mmf_pkg::PAW-1:0] p,
  input  logic [15:0] k,
  input  logic [31:0] invk,       // 1 / k, Q0.32
  input  logic [mmf_pkg::VAW-1:0] dst,
  input  logic [63:0] beta,       // 1 / (127 s_w), Q0.48
  output logic busy,
  output logic [63:0] scale,      // Q24.40
  output logic [mmf_pkg::VAW-1:0] v_raddr,
  input  logic [mmf_pkg::VW-1:0] v_rdata,
  output logic [mmf_pkg::PAW-1:0] p_raddr,
  input  logic [31:0] p_rdata,
  output logic v_we,
  output logic [mmf_pkg::VAW-1:0] v_waddr,
  output logic [mmf_pkg::VW-1:0] v_wdata,
  output logic q_we,
  output logic [15:0] q_idx,
  output logic signed [7:0] q_val
);
  localparam logic [95:0] EPS_Q48 = 96'd281474977;  // 1e-6 in Q48
  localparam logic [71:0] MU_MIN_Q24 = 72'd168;  // 1e-5 in Q24

  typedef enum logic [3:0] {IDLE, P1, MS, SQRT, SQRT_W, DIVR, DIVR_W, DIVQ, DIVQ_W, SCALE1, SCALE2, P2} st_t;
  st_t st;
  logic quant_r;
  logic [mmf_pkg::VAW-1:0] a_r, dst_r;
  logic [mmf_pkg::PAW-1:0] p_r;
  logic [15:0] k_r, idx, rd_idx;
  logic [31:0] invk_r;
  logic [63:0] beta_r;
  logic rd_valid;

  logic [95:0] sumsq;        // Q48
  logic [71:0] maxp;         // Q48
  logic [95:0] ms;           // mean(a^2) + eps, Q48
  logic [47:0] r;            // 1 / rms, Q32
  logic [46:0] rq;           // 127 / (maxp >> sh), Q40
  logic [6:0] sh;
  logic [71:0] mu;           // max|u|, Q24

  // the element read last cycle
  logic signed [71:0] aw;    // a w, Q48
  logic [71:0] aw_abs;
  assign aw = $signed(v_rdata) * $signed(p_rdata);
  assign aw_abs = aw[71] ? -aw : aw;
  logic signed [79:0] a2;    // a^2, Q48
  assign a2 = $signed(v_rdata) * $signed(v_rdata);

  // sequential helpers
  logic sq_start, sq_busy, dv_start, dv_busy;
  logic [95:0] sq_x, dv_n, dv_q;
  logic [63:0] dv_d;
  logic [47:0] sq_r;
  seq_isqrt #(.RW(48)) isqrt (.clk, .rst, .start(sq_start), .x(sq_x), .busy(sq_busy), .r(sq_r));
  seq_div #(.NW(96), .DW(64)) div (.clk, .rst, .start(dv_start), .n(dv_n), .d(dv_d), .busy(dv_busy), .q(dv_q));

  function automatic logic [6:0] bitlen(input logic [71:0] v);
    bitlen = 0;
    for (int i = 0; i < 72; i++) if (v[i]) bitlen = 7'(i + 1);
  endfunction

  assign busy = st != IDLE;
  assign v_raddr = a_r + idx[mmf_pkg::VAW-1:0];
  assign p_raddr = p_r + idx[mmf_pkg::PAW-1:0];
  logic reading;
  assign reading = (st == P1 || st == P2) && idx < k_r;

  // pass 2 outputs
  logic signed [120:0] normed;
  logic [71:0] qmag;
  logic [7:0] qabs;
  assign normed = aw * $signed({1'b0, r}) + (121'sd1 <<< 55);  // a w r in Q80, rounded at Q24
  assign qmag = 72'(aw_abs >> sh) * 72'(rq) + (72'd1 << 39);
  assign qabs = (qmag >> 40) > 127 ? 8'd127 : 8'(qmag >> 40);
  // The ratio above is exact to ~2e-5 codes, so the rounded code c is right unless 127 |a w| / max|a w| lies that
  // close to c - 1/2 or c + 1/2. Two exact comparisons settle it, SPEC.md's round half away from zero included:
  // the true code is c - 1 if 254 |a w| < (2c - 1) max, c + 1 if 254 |a w| >= (2c + 1) max.
  logic [80:0] p254, twoc, below, above;
  logic [7:0] qcode;
  assign p254 = (81'(aw_abs) << 8) - (81'(aw_abs) << 1);
  assign twoc = 81'({qabs, 1'b0}) * 81'(maxp);
  assign below = twoc - 81'(maxp);
  assign above = twoc + 81'(maxp);
  always_comb begin
    if (maxp == 0) qcode = 8'd0;
    else if (qabs != 0 && p254 < below) qcode = qabs - 8'd1;
    else if (qabs != 127 && p254 >= above) qcode = qabs + 8'd1;
    else qcode = qabs;
  end
  assign v_we = st == P2 && rd_valid && !quant_r;
  assign v_waddr = dst_r + rd_idx[mmf_pkg::VAW-1:0];
  assign v_wdata = normed[95:56];
  assign q_we = st == P2 && rd_valid && quant_r;
  assign q_idx = rd_idx;
  assign q_val = aw[71] ? -$signed(qcode) : $signed(qcode);

  always_comb begin
    sq_start = st == SQRT;
    sq_x = ms << 16;  // rms in Q32
    dv_start = st == DIVR || st == DIVQ;
    dv_n = st == DIVR ? (96'd1 << 64) : (96'd127 << 40);
    dv_d = st == DIVR ? {16'b0, sq_r} : 64'(maxp >> sh);
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      st <= IDLE;
      rd_valid <= 1'b0;
    end else begin
      rd_valid <= reading;
      rd_idx <= idx;
      if (reading) idx <= idx + 1;
      unique case (st)
        IDLE: if (start) begin
          st <= P1;
          quant_r <= quant;
          a_r <= a;
          p_r <= p;
          dst_r <= dst;
          k_r <= k;
          invk_r <= invk;
          beta_r <= beta;
          idx <= '0;
          sumsq <= '0;
          maxp <= '0;
        end
        P1: begin
          if (rd_valid) begin
            sumsq <= sumsq + {16'b0, a2};
            if (aw_abs > maxp) maxp <= aw_abs;
            if (rd_idx == k_r - 1) st <= MS;
          end
        end
        MS: begin
          // mean(a^2) + eps in Q48, saturated at the square root's 96-bit input / 2^16
          logic [127:0] m;
          m = (128'(sumsq) * invk_r) >> 32;
          ms <= (m > 128'(96'hFFFF_FFFF_FFFF_FFFF_FFFF) - 128'(EPS_Q48)) ? 96'hFFFF_FFFF_FFFF_FFFF_FFFF : 96'(m) + EPS_Q48;
          st <= SQRT;
        end
        SQRT: st <= SQRT_W;
        SQRT_W: if (!sq_busy) st <= DIVR;      // rms in Q32
        DIVR: st <= DIVR_W;
        DIVR_W: if (!dv_busy) begin
          r <= dv_q[47:0];
          sh <= bitlen(maxp) > 24 ? bitlen(maxp) - 7'd24 : 7'd0;
          st <= quant_r ? DIVQ : P2;
          idx <= '0;
        end
        DIVQ: st <= DIVQ_W;
        DIVQ_W: if (!dv_busy) begin
          rq <= maxp == 0 ? '0 : dv_q[46:0];
          mu <= 72'((120'(maxp) * r) >> 56);
          st <= SCALE1;
        end
        SCALE1: begin
          if (mu < MU_MIN_Q24) mu <= MU_MIN_Q24;
          st <= SCALE2;
        end
        SCALE2: begin
          logic [135:0] s;
          s = (136'(mu) * beta_r) >> 32;
          scale <= s > 136'(64'hFFFF_FFFF_FFFF_FFFF) ? 64'hFFFF_FFFF_FFFF_FFFF : 64'(s);
          st <= P2;
        end
        P2: if (rd_valid && rd_idx == k_r - 1) st <= IDLE;
        default: st <= IDLE;
      endcase
    end
  end
endmodule
