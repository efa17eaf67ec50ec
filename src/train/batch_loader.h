#pragma once
// Training batches: [B][T+1] windows of a token file (T+1 tokens give T labelled positions).
// Each epoch starts the windows at a random offset o in [0, T) and visits the windows starting at
// o, o+T, o+2T, ... in a seeded random order; after the last one the next epoch begins. The state
// (epoch, cursor) with the seed fixes everything that follows, so a restored loader continues
// bit-exactly.
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "train/token_file.h"

namespace mmfree {

struct LoaderState {
  uint64_t seed = 0;
  int64_t epoch = 0;
  int64_t cursor = 0;  // windows of this epoch already handed out

  nlohmann::json to_json() const;
  static LoaderState from_json(const nlohmann::json& j, const std::string& where);
};

class BatchLoader {
 public:
  // Throws Error naming the file when it holds fewer than seq_len + 1 tokens.
  BatchLoader(const TokenFile& file, int64_t batch, int64_t seq_len, uint64_t seed);

  // Fills out (resized to batch * (seq_len + 1)) with the next batch.
  void next(std::vector<int32_t>& out);
  LoaderState state() const { return state_; }
  void restore(const LoaderState& s);
  int64_t windows_per_epoch() const { return static_cast<int64_t>(starts_.size()); }

 private:
  void begin_epoch();
  const TokenFile& file_;
  int64_t batch_, seq_len_;
  LoaderState state_;
  std::vector<int64_t> starts_;  // this epoch's window starts, in visiting order
};

// The fixed validation batches: the first windows of the file at 0, T, 2T, ... in order, at most
// max_batches batches of up to `batch` rows (fewer rows only when the file is short).
struct EvalBatches {
  int64_t rows_per_batch = 0, seq_len = 0;
  std::vector<std::vector<int32_t>> batches;  // each rows_per_batch * (seq_len + 1)
};
EvalBatches make_eval_batches(const TokenFile& file, int64_t batch, int64_t seq_len, int64_t max_batches);

}  // namespace mmfree
