#pragma once
// From text requests to token requests, as lm_eval/api/model.py (TemplateLM) and
// lm_eval/models/huggingface.py (HFLM) do it for a causal model whose tokenizer adds BOS:
//  - _encode_pair: trailing whitespace of the context moves to the continuation; the context is
//    tok(context) = [BOS] + ids, the continuation is tok(context + continuation)[len(tok(context)):];
//    an empty context is [BOS] alone and the continuation is tokenized without BOS;
//  - the model reads (context + continuation)[-(max_length + 1):][:-1] and the last
//    len(continuation) positions are scored;
//  - loglikelihood_rolling: tok(text) (with its BOS) cut into disjoint windows by
//    get_rolling_token_windows(prefix_token = BOS, max_seq_len = max_length, context_len = 1) and
//    make_disjoint_window; the document's log-likelihood is the sum over its windows, each read
//    from a fresh state.
#include <cstdint>
#include <vector>

#include "eval/scorer.h"
#include "eval/tasks.h"
#include "tokenizer/tokenizer.h"

namespace mmfree::eval {

struct TokenRequest {
  std::vector<int64_t> context, continuation;
};

TokenRequest encode_pair(const Tokenizer& tok, const TextRequest& r);

// get_rolling_token_windows + make_disjoint_window over tok(text).
std::vector<TokenRequest> rolling_windows(const std::vector<int64_t>& tokens, int64_t prefix_token, int64_t max_length);

// The requests of one item as the model reads them: `prefix` once, then each continuation from a
// copy of the state after it. With share, prefix is the longest run of tokens that every request
// reads first (and that ends before every request's first scored position); without, it is empty
// and each request is read whole, as the harness reads it.
struct ItemPlan {
  std::vector<int64_t> prefix;
  std::vector<Continuation> continuations;
};
ItemPlan plan_item(const std::vector<TokenRequest>& requests, int64_t max_length, bool share);

}  // namespace mmfree::eval
