#include "model/perplexity.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"
#include "util/progress.h"

namespace mmfree {

SequenceNll sequence_nll(const Model& model, const std::vector<int64_t>& ids, int64_t ctx, bool carry_state) {
  check(ctx > 0, "--ctx: must be positive");
  const ModelConfig& c = model.config();
  const int64_t n = static_cast<int64_t>(ids.size()), V = c.vocab_size;
  StatePool st(model, 1);
  Workspace ws(model, std::min(ctx, std::max<int64_t>(n, 1)));
  std::vector<float> logits(static_cast<size_t>(std::min(ctx, std::max<int64_t>(n, 1)) * V));
  SequenceNll r;
  Progress progress("scoring", static_cast<double>(n - 1), "tokens");
  for (int64_t s = 0; s + 1 < n; s += ctx) {
    const int64_t len = std::min(ctx, n - s);
    if (!carry_state) st.reset_all();
    model.forward(ids.data() + s, 1, len, st, ws, logits.data(), true);
    for (int64_t i = 0; i < len && s + i + 1 < n; ++i) {
      const float* l = logits.data() + i * V;
      const double mx = *std::max_element(l, l + V);
      double sum = 0;
      for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(l[v]) - mx);
      r.nll += mx + std::log(sum) - l[ids[static_cast<size_t>(s + i + 1)]];
      ++r.tokens;
    }
    progress.update(static_cast<double>(r.tokens));
  }
  return r;
}

}  // namespace mmfree
