#include "train/data_prepare.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>
#include <thread>

#include "train/shuffle.h"
#include "train/token_file.h"
#include "util/atomic_write.h"
#include "util/error.h"
#include "util/progress.h"

namespace mmfree {

namespace {

bool is_blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

std::string read_text_file(const std::string& path) {
  check(std::filesystem::is_regular_file(path), "--input: " + path + ": no such file");
  std::ifstream in(path, std::ios::binary);
  check(static_cast<bool>(in), "--input: " + path + ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Document {
  size_t file = 0;  // index into inputs
  std::string text;
  std::vector<int32_t> ids;
};

void encode_all(const Tokenizer& tok, const std::vector<std::string>& inputs, std::vector<Document>& docs, int threads) {
  EncodeOptions eo;
  eo.add_bos = eo.add_eos = false;
  // No more threads than documents (the rest would have nothing to do), nor than 1024.
  const int64_t wanted = threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
  const int n = static_cast<int>(std::clamp<int64_t>(wanted, 1, std::clamp<int64_t>(std::ssize(docs), 1, 1024)));
  double total = 0;
  for (const auto& d : docs) total += static_cast<double>(d.text.size());
  Progress progress("tokenizing", total, "B");
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  // Threads that started are joined even when a later one cannot start (a joinable std::thread
  // destroyed would abort the process).
  auto join_all = [&] {
    for (auto& t : pool) t.join();
  };
  auto work = [&](int w) {
    try {
      for (size_t i = static_cast<size_t>(w); i < docs.size(); i += static_cast<size_t>(n)) {
        try {
          docs[i].ids = tok.encode(docs[i].text, eo);
          progress.add(static_cast<double>(docs[i].text.size()));
        } catch (const Error& e) {
          throw Error("--input: " + inputs[docs[i].file] + ": " + e.what());
        }
      }
    } catch (...) {
      errors[static_cast<size_t>(w)] = std::current_exception();
    }
  };
  for (int w = 0; w < n; ++w) {
    try {
      pool.emplace_back(work, w);
    } catch (const std::system_error& e) {
      join_all();
      throw Error("--threads: cannot start thread " + std::to_string(w + 1) + " of " + std::to_string(n) + ": " + e.what());
    }
  }
  join_all();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace

std::vector<std::string> split_documents(const std::string& text, int64_t document_bytes) {
  std::vector<std::string> docs;
  size_t start = 0, pos = 0;
  auto emit = [&](size_t end) {
    std::string_view piece(text.data() + start, end - start);
    if (!std::all_of(piece.begin(), piece.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }))
      docs.emplace_back(piece);
    start = end;
  };
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    const size_t line_end = nl == std::string::npos ? text.size() : nl + 1;
    const std::string_view line(text.data() + pos, line_end - pos - (nl == std::string::npos ? 0 : 1));
    pos = line_end;
    const int64_t size = static_cast<int64_t>(pos - start);
    if (size >= 2 * document_bytes) {  // text without blank lines (one paragraph a line): cut at a line end
      emit(pos);
    } else if (size >= document_bytes && is_blank(line)) {
      // Take the rest of the run of blank lines with this piece, so the next starts on text.
      while (pos < text.size()) {
        nl = text.find('\n', pos);
        const size_t e = nl == std::string::npos ? text.size() : nl + 1;
        if (!is_blank(std::string_view(text.data() + pos, e - pos - (nl == std::string::npos ? 0 : 1)))) break;
        pos = e;
      }
      emit(pos);
    }
  }
  emit(text.size());
  return docs;
}

PrepareSummary prepare_dataset(const Tokenizer& tok, const std::string& tokenizer_path,
                               const std::vector<std::string>& inputs, const std::string& out_dir,
                               const PrepareOptions& o) {
  check(!inputs.empty(), "--input: no input files");
  check(o.val_fraction >= 0 && o.val_fraction < 1, "--val-fraction: must lie in [0, 1), got " + std::to_string(o.val_fraction));
  check(o.document_bytes > 0, "--document-bytes: must be positive");
  PrepareSummary sum;
  std::vector<Document> docs;
  for (size_t f = 0; f < inputs.size(); ++f) {
    const std::string text = read_text_file(inputs[f]);
    sum.bytes += static_cast<int64_t>(text.size());
    for (auto& d : split_documents(text, o.document_bytes)) docs.push_back({f, std::move(d), {}});
  }
  check(!docs.empty(), "--input: the input files hold no text");
  const int64_t n = static_cast<int64_t>(docs.size());
  int64_t n_val = 0;
  if (o.val_fraction > 0) {
    check(n >= 2, "--val-fraction: the input makes only 1 document, which cannot be split into train and "
                  "validation (give more text, a smaller --document-bytes, or --val-fraction 0)");
    n_val = std::clamp<int64_t>(std::llround(o.val_fraction * static_cast<double>(n)), 1, n - 1);
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  auto g = seeded_generator(o.seed, 0);
  shuffle_in_place(order, g);
  std::vector<bool> is_val(static_cast<size_t>(n), false);
  for (int64_t i = 0; i < n_val; ++i) is_val[static_cast<size_t>(order[static_cast<size_t>(i)])] = true;

  encode_all(tok, inputs, docs, o.threads);
  const int64_t V = tok.vocab_size();
  std::vector<int32_t> train, val;
  std::string val_text;  // the validation documents' own bytes, for perplexity and compressors
  nlohmann::json val_docs = nlohmann::json::array();
  std::vector<int64_t> per_file_index(inputs.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    Document& d = docs[static_cast<size_t>(i)];
    const int64_t index_in_file = per_file_index[d.file]++;
    for (int32_t id : d.ids)
      check(id >= 0 && id < V, tokenizer_path + ": the tokenizer produced id " + std::to_string(id) +
                                   " outside its vocabulary of " + std::to_string(V));
    const bool v = is_val[static_cast<size_t>(i)];
    auto& dst = v ? val : train;
    if (tok.bos_id() >= 0) dst.push_back(tok.bos_id());
    dst.insert(dst.end(), d.ids.begin(), d.ids.end());
    if (tok.eos_id() >= 0) dst.push_back(tok.eos_id());
    if (v) {
      val_docs.push_back({{"file", inputs[d.file]}, {"document", index_in_file}, {"bytes", d.text.size()}});
      val_text += d.text;
      ++sum.val_documents;
    } else {
      ++sum.train_documents;
    }
    std::string().swap(d.text);
  }
  sum.train_tokens = static_cast<int64_t>(train.size());
  sum.val_tokens = static_cast<int64_t>(val.size());

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  check(!ec && std::filesystem::is_directory(out_dir), "--out: cannot create directory " + out_dir);
  TokenFileInfo info;
  info.vocab_size = V;
  info.bos_id = tok.bos_id();
  info.eos_id = tok.eos_id();
  info.documents = sum.train_documents;
  write_token_file(out_dir + "/train.bin", train, info);
  info.documents = sum.val_documents;
  write_token_file(out_dir + "/val.bin", val, info);
  write_file_atomically(out_dir + "/val.txt", [&](std::ostream& out) { out << val_text; });
  const nlohmann::json meta = {
      {"tokenizer", tokenizer_path},       {"vocab_size", V},
      {"bos_id", tok.bos_id()},            {"eos_id", tok.eos_id()},
      {"inputs", inputs},                  {"bytes", sum.bytes},
      {"document_bytes", o.document_bytes}, {"val_fraction", o.val_fraction},
      {"seed", o.seed},                    {"documents", {{"train", sum.train_documents}, {"val", sum.val_documents}}},
      {"tokens", {{"train", sum.train_tokens}, {"val", sum.val_tokens}}},
      {"val_documents", val_docs}};
  write_file_atomically(out_dir + "/meta.json", [&](std::ostream& out) { out << meta.dump(2) << "\n"; });
  if (!tok.file_bytes().empty()) {
    const char* name = tok.kind() == TokenizerKind::HuggingFace ? "tokenizer.json" : "tokenizer.model";
    write_file_atomically(out_dir + "/" + name, [&](std::ostream& out) { out << tok.file_bytes(); });
    const std::string file = find_tokenizer_file(tokenizer_path);
    const auto config = std::filesystem::path(file).parent_path() / "tokenizer_config.json";
    if (!file.empty() && std::filesystem::is_regular_file(config))
      std::filesystem::copy_file(config, out_dir + "/tokenizer_config.json",
                                 std::filesystem::copy_options::overwrite_existing);
  }
  return sum;
}

void copy_tokenizer_files(const std::string& from, const std::string& to) {
  for (const char* name : {"tokenizer.model", "tokenizer.json", "tokenizer_config.json"}) {
    const auto src = std::filesystem::path(from) / name;
    if (!std::filesystem::is_regular_file(src)) continue;
    std::error_code ec;
    std::filesystem::copy_file(src, std::filesystem::path(to) / name, std::filesystem::copy_options::overwrite_existing, ec);
    check(!ec, to + ": cannot copy " + src.string() + ": " + ec.message());
  }
}

}  // namespace mmfree
