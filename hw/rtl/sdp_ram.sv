// Simple dual-port RAM: one write port, one read port with a registered read (one cycle of
// latency), the shape of an FPGA block RAM.
module sdp_ram #(
  parameter int W = 32,
  parameter int AW = 10
) (
  input  logic clk,
  input  logic we,
  input  logic [AW-1:0] waddr,
  input  logic [W-1:0] wdata,
  input  logic [AW-1:0] raddr,
  output logic [W-1:0] rdata
);
  logic [W-1:0] cells [2**AW];
  always_ff @(posedge clk) begin
    if (we) cells[waddr] <= wdata;
    rdata <= cells[raddr];
  end
endmodule
