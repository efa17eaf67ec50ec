#include "train/batch_loader.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "train/shuffle.h"
#include "util/error.h"

namespace mmfree {

nlohmann::json LoaderState::to_json() const { return {{"seed", seed}, {"epoch", epoch}, {"cursor", cursor}}; }

LoaderState LoaderState::from_json(const nlohmann::json& j, const std::string& where) {
  LoaderState s;
  // A float where an integer belongs would be cast out of range (undefined): refused first.
  for (const char* key : {"seed", "epoch", "cursor"})
    check(!j.is_object() || !j.contains(key) || j[key].is_number_integer(),
          where + ": malformed data-loader state: '" + key + "' is not an integer");
  try {
    s.seed = j.at("seed").get<uint64_t>();
    s.epoch = j.at("epoch").get<int64_t>();
    s.cursor = j.at("cursor").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": malformed data-loader state: " + e.what());
  }
  check(s.epoch >= 0 && s.cursor >= 0, where + ": malformed data-loader state (negative position)");
  return s;
}

namespace {
void check_long_enough(const TokenFile& file, int64_t seq_len) {
  check(file.size() >= seq_len + 1, file.path() + ": holds " + std::to_string(file.size()) +
                                        " tokens, fewer than --seq-len + 1 = " + std::to_string(seq_len + 1));
}
}  // namespace

BatchLoader::BatchLoader(const TokenFile& file, int64_t batch, int64_t seq_len, uint64_t seed)
    : file_(file), batch_(batch), seq_len_(seq_len) {
  check(batch > 0 && seq_len > 0, "internal: batch and seq_len must be positive");
  check_long_enough(file, seq_len);
  state_.seed = seed;
  begin_epoch();
}

void BatchLoader::begin_epoch() {
  auto g = seeded_generator(state_.seed, static_cast<uint64_t>(state_.epoch));
  const int64_t n = file_.size();
  // Offsets up to n - T - 1 keep at least one whole window of T + 1 tokens.
  const int64_t offset = static_cast<int64_t>(uniform_below(g, static_cast<uint64_t>(std::min(seq_len_, n - seq_len_))));
  const int64_t windows = (n - 1 - offset) / seq_len_;
  starts_.resize(static_cast<size_t>(windows));
  for (int64_t k = 0; k < windows; ++k) starts_[static_cast<size_t>(k)] = k;
  shuffle_in_place(starts_, g);
  for (auto& s : starts_) s = offset + s * seq_len_;
}

void BatchLoader::next(std::vector<int32_t>& out) {
  const int64_t W = seq_len_ + 1;
  out.resize(static_cast<size_t>(batch_ * W));
  for (int64_t b = 0; b < batch_; ++b) {
    if (state_.cursor == windows_per_epoch()) {
      ++state_.epoch;
      state_.cursor = 0;
      begin_epoch();
    }
    file_.read(starts_[static_cast<size_t>(state_.cursor++)], W, out.data() + b * W);
  }
}

void BatchLoader::restore(const LoaderState& s) {
  check(s.seed == state_.seed, "checkpoint: the data-loader seed " + std::to_string(s.seed) + " differs from --seed " +
                                   std::to_string(state_.seed));
  state_ = s;
  begin_epoch();
  check(state_.cursor <= windows_per_epoch(),
        "checkpoint: the data-loader position lies beyond the data (was the data set prepared again?)");
}

EvalBatches make_eval_batches(const TokenFile& file, int64_t batch, int64_t seq_len, int64_t max_batches) {
  check_long_enough(file, seq_len);
  const int64_t windows = (file.size() - 1) / seq_len, W = seq_len + 1;
  EvalBatches e;
  e.seq_len = seq_len;
  e.rows_per_batch = std::min(batch, windows);
  const int64_t n = std::min(max_batches, windows / e.rows_per_batch);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int32_t> rows(static_cast<size_t>(e.rows_per_batch * W));
    for (int64_t r = 0; r < e.rows_per_batch; ++r)
      file.read((i * e.rows_per_batch + r) * seq_len, W, rows.data() + r * W);
    e.batches.push_back(std::move(rows));
  }
  return e;
}

}  // namespace mmfree
