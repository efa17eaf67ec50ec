// Streams a matrix's packed 2-bit weights from external memory, one beat of LANES weights
// (LANES / 4 bytes) per request, at a configurable bandwidth: a credit counter gains bw_num each
// cycle and a beat costs (LANES / 4) * bw_den, so the mean rate is bw_num / bw_den bytes per
// cycle (at most one beat per cycle). Memory answers one cycle after a request; the FIFO absorbs
// that latency and any stall of the consumer.
module weight_streamer #(
  parameter int LANES = 64,
  parameter int DEPTH = 8
) (
  input  logic clk,
  input  logic rst,
  input  logic [15:0] bw_num,
  input  logic [15:0] bw_den,
  input  logic start,
  input  logic [31:0] base,      // first beat
  input  logic [31:0] beats,     // beats to stream
  // external memory: a request now, its data next cycle
  output logic mem_rd_en,
  output logic [31:0] mem_rd_addr,
  input  logic mem_rd_valid,
  input  logic [2*LANES-1:0] mem_rd_data,
  // the consumer
  output logic w_valid,
  output logic [2*LANES-1:0] w_data,
  input  logic w_ready
);
  localparam int BEAT_BYTES = LANES / 4;
  logic [31:0] next_addr, left;
  logic [31:0] credit, cost;
  logic inflight;
  logic empty;
  logic [$clog2(DEPTH):0] count;

  logic [31:0] credit_next;
  assign credit_next = credit + {16'b0, bw_num} - (mem_rd_en ? cost : 32'd0);
  assign cost = BEAT_BYTES * {16'b0, bw_den};
  // Room for the beat in flight and this one.
  assign mem_rd_en = (left != 0) && (credit >= cost) && (32'(count) + (inflight ? 32'd1 : 32'd0) < DEPTH);
  assign mem_rd_addr = next_addr;
  assign w_valid = !empty;

  sync_fifo #(.W(2 * LANES), .DEPTH(DEPTH)) fifo (
    .clk, .rst, .push(mem_rd_valid), .din(mem_rd_data), .pop(w_valid && w_ready), .dout(w_data), .empty, .count);

  always_ff @(posedge clk) begin
    if (rst) begin
      left <= '0;
      credit <= '0;
      inflight <= 1'b0;
    end else begin
      inflight <= mem_rd_en;
      if (start) begin
        next_addr <= base;
        left <= beats;
        credit <= '0;
      end else begin
        // Credit saturates at two beats: an idle memory does not bank bandwidth for later.
        if (mem_rd_en) begin
          next_addr <= next_addr + 1;
          left <= left - 1;
        end
        credit <= (credit_next > 2 * cost) ? 2 * cost : credit_next;
      end
    end
  end
endmodule
