// libFuzzer target: a chat template (text from a model's tokenizer_config.json or a
// --chat-template file), parsed and rendered on a short conversation under small limits. Only
// jinja::Error (with RaisedError) may come out; a crash, a hang or any other exception is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "jinja/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mmfree::jinja;
  Limits limits;
  limits.max_output_bytes = 1 << 16;
  limits.max_loop_iterations = 1 << 12;
  limits.max_steps = 1 << 16;
  static const Value variables = [] {
    const auto message = [](const char* role, const char* content) {
      return Value::dict({{"role", Value::string(role)}, {"content", Value::string(content)}});
    };
    return Value::dict({{"messages", Value::list({message("system", "Be brief."), message("user", "Hello"),
                                                  message("assistant", " Hi! "), message("user", "Bye")})},
                        {"bos_token", Value::string("<s>")},
                        {"eos_token", Value::string("</s>")},
                        {"add_generation_prompt", Value::boolean(true)}});
  }();
  try {
    const Template t(std::string_view(reinterpret_cast<const char*>(data), size), limits);
    (void)t.render(variables);
  } catch (const Error&) {
  } catch (const RaisedError&) {
  }
  return 0;
}
