#pragma once
// One sequence's side of the decode loop, apart from the model: sample the next token from the
// logits the model gave for it, turn that token into text (UTF-8 safe, stop strings held back) and
// decide whether generation is over. generate() drives one through a model; the server's
// scheduler drives many, one per state slot, through one batched forward.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "generate/generator.h"
#include "generate/sampler.h"
#include "generate/stop_strings.h"
#include "tokenizer/text_stream.h"

namespace mmfree {

class Continuation {
 public:
  // tok may be null (ids only, no stop strings). The prompt is accepted for the repetition penalty.
  Continuation(const GenerateRequest& req, const Tokenizer* tok, int64_t vocab, int64_t eos_id);
  // Samples the next token from logits [vocab]; its text goes to sink.text (its id to sink.token
  // without a tokenizer). Returns true when generation is over: stop_reason() is set and the text
  // held back has been flushed. Not to be called once over.
  bool step(const float* logits, const GenerateSink& sink);
  // The same from the choices() most likely tokens under choice_row() (Model::forward_select).
  bool step_of(std::span<const TokenChoice> top, const GenerateSink& sink);
  int64_t choices() const { return sampler_.choices(); }
  ChoiceRow choice_row() { return sampler_.choice_row(); }
  bool done() const { return done_; }
  int64_t last() const { return ids_.back(); }  // the token to feed the model next
  const std::vector<int64_t>& ids() const { return ids_; }
  const std::string& stop_reason() const { return stop_reason_; }  // "length", "eos" or "stop"

 private:
  bool advance(int64_t next, const GenerateSink& sink);
  void end(const std::string& reason, const GenerateSink& sink);

  const Tokenizer* tok_;
  int64_t max_tokens_, eos_id_;
  bool ignore_eos_;
  Sampler sampler_;
  std::unique_ptr<TextStream> stream_;
  StopStrings stops_;
  std::vector<int64_t> ids_;
  std::string stop_reason_;
  bool done_ = false;
};

}  // namespace mmfree
