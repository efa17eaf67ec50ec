// The int8 activation vector of one product: written one element per cycle by the quantizer
// (collected into a word of LANES lanes, then stored whole), read one word of LANES elements per
// cycle by the matrix-vector unit.
module act_buffer #(
  parameter int LANES = 64,
  parameter int WAW = 8          // word address bits: up to LANES * 2**WAW elements
) (
  input  logic clk,
  input  logic we,
  input  logic [15:0] widx,      // element index; elements arrive in order
  input  logic signed [7:0] wval,
  input  logic [WAW-1:0] raddr,
  output logic [8*LANES-1:0] rdata
);
  localparam int LB = $clog2(LANES);
  logic [8*LANES-1:0] word;
  logic [8*LANES-1:0] word_next;
  always_comb begin
    word_next = word;
    word_next[8 * widx[LB-1:0] +: 8] = wval;
  end
  always_ff @(posedge clk) if (we) word <= word_next;

  sdp_ram #(.W(8 * LANES), .AW(WAW)) mem (
    .clk, .we(we && widx[LB-1:0] == LB'(LANES - 1)), .waddr(widx[LB +: WAW]), .wdata(word_next), .raddr, .rdata);
endmodule
