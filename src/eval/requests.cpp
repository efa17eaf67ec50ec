#include "eval/requests.h"

#include <algorithm>

#include "eval/pytext.h"
#include "util/error.h"

namespace mmfree::eval {
namespace {

std::vector<int64_t> ids(const Tokenizer& tok, std::string_view text, bool bos) {
  EncodeOptions o;
  o.add_bos = bos;
  o.add_eos = false;
  const auto v = tok.encode(text, o);
  return {v.begin(), v.end()};
}

}  // namespace

TokenRequest encode_pair(const Tokenizer& tok, const TextRequest& r) {
  if (r.context.empty()) {
    check(tok.bos_id() >= 0, "an empty context needs a BOS token, and the tokenizer " + tok.name() + " has none");
    TokenRequest t{{tok.bos_id()}, ids(tok, r.continuation, false)};
    // model.py: when the continuation itself starts with the prefix token, that token is the context.
    if (!t.continuation.empty() && t.continuation[0] == tok.bos_id()) t.continuation.erase(t.continuation.begin());
    return t;
  }
  const std::string_view ctx = py::rstrip(r.context);
  const std::string moved = r.context.substr(ctx.size()) + r.continuation;
  TokenRequest t{ids(tok, ctx, true), {}};
  const auto whole = ids(tok, std::string(ctx) + moved, true);
  if (whole.size() > t.context.size())
    t.continuation.assign(whole.begin() + static_cast<std::ptrdiff_t>(t.context.size()), whole.end());
  return t;
}

std::vector<TokenRequest> rolling_windows(const std::vector<int64_t>& tokens, int64_t prefix_token,
                                          int64_t max_length) {
  check(max_length >= 1, "--max-length: must be positive");
  std::vector<TokenRequest> out;
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return out;
  auto slice = [&](int64_t a, int64_t b) { return std::vector<int64_t>(tokens.begin() + a, tokens.begin() + b); };
  // First window: [prefix] + tokens[:first - 1] predicts tokens[:first]; its disjoint context is
  // the prefix alone.
  const int64_t first = std::min(max_length, n);
  out.push_back({{prefix_token}, slice(0, first)});
  // Later windows (context_len 1): predict the next up to max_length tokens; the input is the
  // max_length tokens before window_end, so the disjoint context is what precedes the predictions.
  for (int64_t predicted = first; predicted < n;) {
    const int64_t len = std::min(n - predicted, max_length), end = predicted + len;
    const int64_t ctx_start = std::max<int64_t>(end - max_length - 1, 0);
    out.push_back({slice(ctx_start, end - len), slice(end - len, end)});
    predicted = end;
  }
  return out;
}

ItemPlan plan_item(const std::vector<TokenRequest>& requests, int64_t max_length, bool share) {
  // The sequence each request reads, with the index of its first scored target.
  std::vector<std::vector<int64_t>> seqs;
  std::vector<size_t> first_target;
  for (const auto& r : requests) {
    check(!r.continuation.empty(), "a request's continuation makes no tokens");
    check(static_cast<int64_t>(r.continuation.size()) <= max_length,
          "a continuation of " + std::to_string(r.continuation.size()) + " tokens exceeds --max-length " +
              std::to_string(max_length));
    std::vector<int64_t> s = r.context;
    s.insert(s.end(), r.continuation.begin(), r.continuation.end());
    const size_t keep = std::min(s.size(), static_cast<size_t>(max_length + 1));  // left truncation
    s.erase(s.begin(), s.end() - static_cast<std::ptrdiff_t>(keep));
    first_target.push_back(s.size() - r.continuation.size());
    seqs.push_back(std::move(s));
  }
  // Shared: tokens equal in every sequence, ending before the position that predicts any first
  // target (input index first_target - 1 must be read in the continuation to get its logits).
  size_t shared = 0;
  if (share && !seqs.empty()) {
    size_t limit = *std::min_element(first_target.begin(), first_target.end()) - 1;
    while (shared < limit &&
           std::all_of(seqs.begin(), seqs.end(), [&](const auto& s) { return s[shared] == seqs[0][shared]; }))
      ++shared;
  }
  ItemPlan plan;
  if (!seqs.empty()) plan.prefix.assign(seqs[0].begin(), seqs[0].begin() + static_cast<std::ptrdiff_t>(shared));
  for (size_t i = 0; i < seqs.size(); ++i) {
    Continuation c;
    c.input.assign(seqs[i].begin() + static_cast<std::ptrdiff_t>(shared), seqs[i].end() - 1);
    c.targets.assign(seqs[i].begin() + static_cast<std::ptrdiff_t>(first_target[i]), seqs[i].end());
    plan.continuations.push_back(std::move(c));
  }
  return plan;
}

}  // namespace mmfree::eval
