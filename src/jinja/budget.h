#pragma once
// The bounds on one template: its text is outside input (a model's tokenizer_config.json or a
// --chat-template file), so parsing and rendering stay within these whatever it says.
#include <cstddef>
#include <cstdint>
#include <string>

#include "jinja/error.h"

namespace mmfree::jinja {

struct Limits {
  size_t max_template_bytes = size_t{1} << 20;
  int max_nesting = 64;                     // blocks and expressions nested in the template text
  size_t max_output_bytes = size_t{4} << 20;  // the rendered text, and any one string made on the way
  int64_t max_loop_iterations = int64_t{1} << 20;  // all loops of one render together
  int64_t max_steps = int64_t{1} << 24;     // the work of one render: nodes evaluated, elements and bytes touched
};

// What one render has spent of its limits.
class Budget {
 public:
  explicit Budget(const Limits& limits) : limits_(limits) {}
  const Limits& limits() const { return limits_; }

  void spend(int64_t steps) {
    steps_ += steps;
    if (steps_ > limits_.max_steps) {
      throw Error("the template does more than " + std::to_string(limits_.max_steps) + " steps of work");
    }
  }
  void iteration() {
    if (++iterations_ > limits_.max_loop_iterations) {
      throw Error("the template's loops run more than " + std::to_string(limits_.max_loop_iterations) + " times");
    }
  }
  // Before a string of `bytes` is made; its cost is one step per 64 bytes.
  void string_of(size_t bytes) {
    if (bytes > limits_.max_output_bytes) {
      throw Error("the template makes a string of more than " + std::to_string(limits_.max_output_bytes) + " bytes");
    }
    spend(1 + static_cast<int64_t>(bytes / 64));
  }

 private:
  const Limits& limits_;
  int64_t steps_ = 0, iterations_ = 0;
};

}  // namespace mmfree::jinja
