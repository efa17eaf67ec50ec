#pragma once
// Chat messages as one prompt text: with the model's own Jinja chat template (src/jinja/) where
// its tokenizer has one, or one given with --chat-template; else with this plain one
// (docs/SERVER.md):
//
//   <system messages, each followed by a blank line>
//   User: <content>
//   Assistant: <content>
//   ...
//   Assistant:
//
// where generation stops before the model starts the next "\nUser:" turn.
#include <memory>
#include <string>
#include <vector>

#include "serve/request.h"
#include "tokenizer/tokenizer.h"

namespace mmfree::jinja {
class Template;
}

namespace mmfree::serve {

class ChatTemplate {
 public:
  ChatTemplate();  // the plain template
  // A Jinja template, parsed and tried on one user message. Throws Error naming `origin` and what
  // is wrong (with its line) when it does not parse or fails on that message.
  ChatTemplate(const std::string& source, std::string bos_token, std::string eos_token, std::string origin);

  // Throws ApiError 400 (param "messages") when the template fails on these messages; its own
  // raise_exception(...) is answered with that message.
  std::string render(const std::vector<ChatMessage>& messages) const;

  bool is_plain() const { return !jinja_; }
  // Where the template came from: "plain", "the model's" or the --chat-template file.
  const std::string& origin() const { return origin_; }
  // How the rendered text becomes tokens. The plain template's text gets the tokenizer's BOS and
  // its specials are plain text (a user cannot forge a turn); a model's template writes BOS and
  // its turn markers itself, as special tokens, as transformers and llama-server read it.
  bool add_bos() const { return is_plain(); }
  bool parse_special() const { return !is_plain(); }
  // Stop strings the template needs besides the model's end-of-sequence token.
  std::vector<std::string> stops() const;

 private:
  std::shared_ptr<const jinja::Template> jinja_;
  std::string bos_, eos_, origin_ = "plain";
};

// The template `mmfree serve` uses: `flag` is --chat-template ("" when not given: the
// tokenizer's own, else plain; "plain": the plain one; else a Jinja file). A given file that
// cannot be read or parsed throws Error; the tokenizer's own template falls back to the plain one
// with `warning` set when it cannot be parsed.
ChatTemplate choose_chat_template(const std::string& flag, const Tokenizer& tok, std::string& warning);

}  // namespace mmfree::serve
