// One accelerator core: runs a MatMul-free block (or any program of the ops in mmf_pkg) out of
// its instruction memory. The host loads vectors into the vector memory, per-layer parameters
// (norm weights, lower bounds; p24) into the parameter memory and the program into the instruction
// memory, then pulses start; the core streams each product's ternary weights from external
// memory and raises done at mmf_pkg::OP_END. docs/HARDWARE.md has the block diagram.
module mmf_core
#(
  parameter int LANES = 64,      // weights per cycle: the memory beat is LANES / 4 bytes
  parameter int VMEM_AW = 16,    // vector memory: 2**VMEM_AW v24 words
  parameter int PMEM_AW = 15,    // parameter memory
  parameter int QWAW = 8,        // activation buffer: LANES * 2**QWAW int8 elements
  parameter int IMEM_AW = 6
) (
  input  logic clk,
  input  logic rst,
  // host access, while the core is idle
  input  logic host_we,
  input  logic [1:0] host_sel,             // 0 vector memory, 1 parameter memory, 2 instructions
  input  logic [15:0] host_addr,
  input  logic [mmf_pkg::VW-1:0] host_wdata,        // vector memory: v24; parameter memory: p24 in the low bits
  input  logic [mmf_pkg::INSTR_BITS-1:0] host_iwdata,
  input  logic [15:0] host_raddr,          // vector memory, data next cycle
  output logic [mmf_pkg::VW-1:0] host_rdata,
  input  logic start,
  output logic busy,
  output logic [63:0] last_scale,          // the scale of the last QUANT, Q24.40 (for the tests)
  output logic [IMEM_AW-1:0] pc_out,       // the instruction being run (for cycle profiles)
  // memory bandwidth: bw_num / bw_den bytes per cycle
  input  logic [15:0] bw_num,
  input  logic [15:0] bw_den,
  // external weight memory
  output logic mem_rd_en,
  output logic [31:0] mem_rd_addr,
  input  logic mem_rd_valid,
  input  logic [2*LANES-1:0] mem_rd_data
);
  // ---- control: fetch, issue, wait ----
  typedef enum logic [1:0] {C_IDLE, C_FETCH, C_ISSUE, C_WAIT} cst_t;
  cst_t cst;
  logic [IMEM_AW-1:0] pc;
  logic [mmf_pkg::INSTR_BITS-1:0] imem_rdata;
  mmf_pkg::instr_t ins;
  assign ins = imem_rdata;
  logic [3:0] op;              // the op being run (an op_t)
  logic issue;
  assign issue = cst == C_ISSUE;
  assign busy = cst != C_IDLE;
  assign pc_out = pc;

  sdp_ram #(.W(mmf_pkg::INSTR_BITS), .AW(IMEM_AW)) imem (
    .clk, .we(host_we && host_sel == 2'd2), .waddr(host_addr[IMEM_AW-1:0]), .wdata(host_iwdata),
    .raddr(pc), .rdata(imem_rdata));

  // ---- units ----
  logic nq_busy, mv_busy, ew_busy;
  logic [63:0] scale;
  assign last_scale = scale;

  logic [mmf_pkg::VAW-1:0] nq_vraddr, ew_vraddr, nq_vwaddr, ew_vwaddr, mv_waddr;
  logic [mmf_pkg::PAW-1:0] nq_praddr, ew_praddr;
  logic [mmf_pkg::VW-1:0] nq_vwdata, ew_vwdata, mv_wdata, v_rdata;
  logic nq_vwe, ew_vwe, mv_we;
  logic [31:0] p_rdata;
  logic q_we;
  logic [15:0] q_idx;
  logic signed [7:0] q_val;
  logic [QWAW-1:0] q_raddr;
  logic [8*LANES-1:0] q_rdata;
  logic w_valid, w_ready;
  logic [2*LANES-1:0] w_data;

  norm_quant nq (
    .clk, .rst, .start(issue && (ins.op == mmf_pkg::OP_NORM || ins.op == mmf_pkg::OP_QUANT)), .quant(ins.op == mmf_pkg::OP_QUANT),
    .a(ins.a), .p(ins.p), .k(ins.k), .invk(ins.invk), .dst(ins.dst), .beta(ins.beta), .busy(nq_busy), .scale,
    .v_raddr(nq_vraddr), .v_rdata, .p_raddr(nq_praddr), .p_rdata, .v_we(nq_vwe), .v_waddr(nq_vwaddr),
    .v_wdata(nq_vwdata), .q_we, .q_idx, .q_val);

  act_buffer #(.LANES(LANES), .WAW(QWAW)) qbuf (
    .clk, .we(q_we), .widx(q_idx), .wval(q_val), .raddr(q_raddr), .rdata(q_rdata));

  weight_streamer #(.LANES(LANES)) ws (
    .clk, .rst, .bw_num, .bw_den, .start(issue && ins.op == mmf_pkg::OP_TMV), .base(ins.wbase),
    .beats(32'(ins.m) * (32'(ins.k) / LANES)), .mem_rd_en, .mem_rd_addr, .mem_rd_valid, .mem_rd_data,
    .w_valid, .w_data, .w_ready);

  ternary_mv #(.LANES(LANES), .WAW(QWAW)) mv (
    .clk, .rst, .start(issue && ins.op == mmf_pkg::OP_TMV), .rows(ins.m), .k(ins.k), .dst(ins.dst), .raw(ins.raw), .scale,
    .busy(mv_busy), .w_valid, .w_data, .w_ready, .q_raddr, .q_rdata, .y_we(mv_we), .y_addr(mv_waddr),
    .y_data(mv_wdata));

  eltwise ew (
    .clk, .rst, .start(issue && (ins.op == mmf_pkg::OP_MLGRU || ins.op == mmf_pkg::OP_SILU_MUL || ins.op == mmf_pkg::OP_ADD)), .op(ins.op),
    .a(ins.a), .b(ins.b), .c(ins.c), .dst(ins.dst), .p(ins.p), .k(ins.k), .busy(ew_busy), .v_raddr(ew_vraddr),
    .v_rdata, .p_raddr(ew_praddr), .p_rdata, .v_we(ew_vwe), .v_waddr(ew_vwaddr), .v_wdata(ew_vwdata));

  // ---- memories, shared by whichever unit runs (one at a time) ----
  logic uses_nq, uses_ew;
  assign uses_nq = op == mmf_pkg::OP_NORM || op == mmf_pkg::OP_QUANT;
  assign uses_ew = op == mmf_pkg::OP_MLGRU || op == mmf_pkg::OP_SILU_MUL || op == mmf_pkg::OP_ADD;

  logic v_we;
  logic [mmf_pkg::VAW-1:0] v_waddr, v_raddr;
  logic [mmf_pkg::VW-1:0] v_wdata;
  always_comb begin
    if (!busy) begin
      v_we = host_we && host_sel == 2'd0;
      v_waddr = host_addr;
      v_wdata = host_wdata;
      v_raddr = host_raddr;
    end else begin
      v_we = nq_vwe || mv_we || ew_vwe;
      v_waddr = nq_vwe ? nq_vwaddr : mv_we ? mv_waddr : ew_vwaddr;
      v_wdata = nq_vwe ? nq_vwdata : mv_we ? mv_wdata : ew_vwdata;
      v_raddr = uses_nq ? nq_vraddr : ew_vraddr;
    end
  end
  assign host_rdata = v_rdata;

  sdp_ram #(.W(mmf_pkg::VW), .AW(VMEM_AW)) vmem (
    .clk, .we(v_we), .waddr(v_waddr[VMEM_AW-1:0]), .wdata(v_wdata), .raddr(v_raddr[VMEM_AW-1:0]), .rdata(v_rdata));
  sdp_ram #(.W(32), .AW(PMEM_AW)) pmem (
    .clk, .we(!busy && host_we && host_sel == 2'd1), .waddr(host_addr[PMEM_AW-1:0]), .wdata(host_wdata[31:0]),
    .raddr(uses_ew ? ew_praddr[PMEM_AW-1:0] : nq_praddr[PMEM_AW-1:0]), .rdata(p_rdata));

  always_ff @(posedge clk) begin
    if (rst) begin
      cst <= C_IDLE;
      op <= mmf_pkg::OP_END;
    end else begin
      unique case (cst)
        C_IDLE: if (start) begin
          pc <= '0;
          cst <= C_FETCH;
        end
        C_FETCH: cst <= C_ISSUE;            // the instruction memory answers next cycle
        C_ISSUE: begin
          op <= ins.op;
          cst <= ins.op == mmf_pkg::OP_END ? C_IDLE : C_WAIT;
        end
        C_WAIT: if (!nq_busy && !mv_busy && !ew_busy) begin
          pc <= pc + 1'b1;
          cst <= C_FETCH;
        end
        default: cst <= C_IDLE;
      endcase
    end
  end
endmodule
