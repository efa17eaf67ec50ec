// Shared types of the MatMul-free accelerator core (docs/HARDWARE.md).
// Number formats: vectors are signed Q16.24 in 40-bit words ("v24", one M20K / BRAM word width);
// norm weights and lower bounds are signed Q8.24 in 32 bits ("p24"); the ternary product is
// exact int32; one scale per product is unsigned Q24.40 in 64 bits.
package mmf_pkg;

  localparam int VW = 40;            // bits of a vector element, Q16.24
  localparam int VAW = 16;           // vector memory address bits
  localparam int PAW = 16;           // parameter memory address bits

  typedef enum logic [3:0] {
    OP_END      = 4'd0,  // stop; the core raises done
    OP_NORM     = 4'd1,  // dst = RMSNorm(a) * p                    (v24 out)
    OP_QUANT    = 4'd2,  // qbuf = int8(RMSNorm(a) * p), scale = max|u| / (127 s_w)
    OP_TMV      = 4'd3,  // dst[r] = scale * sum_k W[r][k] qbuf[k]  (raw: the int32 sum)
    OP_MLGRU    = 4'd4,  // c = sigma-gated recurrence of a (i), b (f), c (h), p (lower bound)
    OP_SILU_MUL = 4'd5,  // dst = silu(a) * b
    OP_ADD      = 4'd6   // dst = a + b (saturating)
  } op_t;

  // One instruction of the block program; the host writes them into the instruction memory.
  typedef struct packed {
    logic [63:0] beta;    // QUANT: 1 / (127 s_w) in Q0.48, the weight tensor's scale
    logic [31:0] invk;    // NORM/QUANT: 1 / k in Q0.32
    logic [31:0] wbase;   // TMV: first weight beat in external memory
    logic [15:0] m;       // TMV: rows
    logic [15:0] k;       // length (TMV: columns, a multiple of LANES)
    logic [PAW-1:0] p;    // parameter vector (norm weight, lower bound)
    logic [VAW-1:0] dst;
    logic [VAW-1:0] c;
    logic [VAW-1:0] b;
    logic [VAW-1:0] a;
    logic raw;            // TMV: write the int32 sums instead of scaled v24 values
    logic [3:0] op;       // an op_t (a plain field: yosys 0.23 takes no enum inside a struct)
  } instr_t;

  localparam int INSTR_BITS = 64 + 32 + 32 + 16 + 16 + PAW + 4 * VAW + 1 + 4;  // $bits(instr_t), spelled out for yosys

endpackage
