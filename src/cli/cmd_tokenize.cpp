// mmfree tokenize: text -> token ids (and their vocabulary pieces); --bench times the encoder.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/inputs.h"
#include "util/error.h"
#include "util/utf8.h"

namespace mmfree::cli {
namespace {

struct TokenizeOptions {
  TokenizerSource source;
  std::string text, file;
  bool no_bos = false, parse_special = true, json = false;
  int bench = 0;
};

// A piece as one printable field: control characters and backslashes escaped.
std::string printable(const std::string& piece) {
  std::string s;
  for (char c : piece) {
    if (c == '\\') s += "\\\\";
    else if (c == '\n') s += "\\n";
    else if (c == '\t') s += "\\t";
    else if (c == '\r') s += "\\r";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", static_cast<unsigned>(static_cast<unsigned char>(c)));
      s += hex;
    } else {
      s += c;
    }
  }
  return s;
}

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Encodes the text `runs` times and reports the median throughput, by wall clock and by CPU time
// (the encoder is single-threaded, so CPU time is what a quiet machine would show).
void bench(const Tokenizer& tok, const std::string& text, const EncodeOptions& eo, int runs, bool json) {
  std::vector<double> wall, cpu;
  size_t tokens = 0;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    tokens = tok.encode(text, eo).size();
    cpu.push_back(cpu_seconds() - c0);
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  const double mb = static_cast<double>(text.size()) / 1e6, wall_s = median(wall), cpu_s = median(cpu);
  if (json) {
    const nlohmann::json j = {{"tokenizer", tok.name()}, {"bytes", text.size()},       {"tokens", tokens},
                              {"runs", runs},           {"median_wall_s", wall_s},    {"median_cpu_s", cpu_s},
                              {"mb_per_s", mb / wall_s}, {"mb_per_cpu_s", mb / cpu_s}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s: %.2f MB -> %zu tokens; median of %d runs: %.3f s wall (%.2f MB/s), %.3f s CPU (%.2f MB/s)\n",
                tok.name().c_str(), mb, tokens, runs, wall_s, mb / wall_s, cpu_s, mb / cpu_s);
  }
}

void run(const TokenizeOptions& o) {
  const auto tok = o.source.open();
  const std::string text = o.file.empty() ? o.text : read_text_file(o.file);
  check_utf8(text, o.file.empty() ? "--text" : o.file);
  EncodeOptions eo;
  eo.add_bos = !o.no_bos;
  eo.parse_special = o.parse_special;
  if (o.bench > 0) return bench(*tok, text, eo, o.bench, o.json);
  const auto ids = tok->encode(text, eo);
  if (o.json) {
    std::vector<std::string> pieces;
    for (int32_t id : ids) pieces.push_back(tok->piece(id));
    const nlohmann::json j = {{"ids", ids}, {"pieces", pieces}};
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  for (int32_t id : ids) std::printf("%d\t%s\n", id, printable(tok->piece(id)).c_str());
}

void setup(CLI::App& app) {
  auto o = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand("tokenize", "Turn text into token ids: one line 'id<TAB>piece' per token");
  o->source.add_options(cmd);
  auto* input = cmd->add_option_group("input", "The text (one of)");
  input->add_option("--text", o->text, "The text itself");
  input->add_option("--file", o->file, "A file holding the text ('-' for stdin)");
  input->require_option(1);
  cmd->add_flag("--no-bos", o->no_bos, "Do not add the BOS token even where the tokenizer adds one");
  add_parse_special_flag(cmd, o->parse_special);
  cmd->add_flag("--json", o->json, "Print {\"ids\": [...], \"pieces\": [...]}");
  cmd->add_option("--bench", o->bench, "Instead: encode the text N times and print the median throughput")
      ->check(CLI::PositiveNumber);
  cmd->callback([o] { run(*o); });
}

}  // namespace
MMFREE_COMMAND(setup);
}  // namespace mmfree::cli
