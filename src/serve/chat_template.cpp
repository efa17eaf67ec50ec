#include "serve/chat_template.h"

#include "jinja/template.h"
#include "serve/api_error.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace mmfree::serve {

namespace {

constexpr const char* kTurnStop = "\nUser:";

std::string render_plain(const std::vector<ChatMessage>& messages) {
  std::string s;
  for (const ChatMessage& m : messages) {
    if (m.role == "system") {
      s += m.content + "\n\n";
    } else {
      s += (m.role == "user" ? "User: " : "Assistant: ") + m.content + "\n";
    }
  }
  return s + "Assistant:";
}

// The variables transformers passes to a chat template; mmfree takes no tools or documents, so
// those are none (defined, as transformers defines them: `tools is not none` is false).
jinja::Value variables(const std::vector<ChatMessage>& messages, const std::string& bos, const std::string& eos) {
  jinja::List list;
  for (const ChatMessage& m : messages) {
    list.push_back(jinja::Value::dict({{"role", jinja::Value::string(m.role)}, {"content", jinja::Value::string(m.content)}}));
  }
  return jinja::Value::dict({{"messages", jinja::Value::list(std::move(list))},
                             {"bos_token", jinja::Value::string(bos)},
                             {"eos_token", jinja::Value::string(eos)},
                             {"add_generation_prompt", jinja::Value::boolean(true)},
                             {"tools", jinja::Value::none()},
                             {"documents", jinja::Value::none()}});
}

std::string read_file(const std::string& path) {
  MappedFile f(path);
  return std::string(reinterpret_cast<const char*>(f.data()), f.size());
}

}  // namespace

ChatTemplate::ChatTemplate() = default;

ChatTemplate::ChatTemplate(const std::string& source, std::string bos_token, std::string eos_token, std::string origin)
    : bos_(std::move(bos_token)), eos_(std::move(eos_token)), origin_(std::move(origin)) {
  try {
    jinja_ = std::make_shared<const jinja::Template>(source);
    jinja_->render(variables({{"user", "Hello"}}, bos_, eos_));
  } catch (const jinja::RaisedError& e) {
    throw Error("the chat template (" + origin_ + ") refuses a conversation of one user message: " + e.what());
  } catch (const jinja::Error& e) {
    throw Error("the chat template (" + origin_ + ") " + (jinja_ ? "fails on one user message" : "cannot be parsed") + ": " + e.what());
  }
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages) const {
  if (!jinja_) return render_plain(messages);
  try {
    return jinja_->render(variables(messages, bos_, eos_));
  } catch (const jinja::RaisedError& e) {
    throw ApiError(400, e.what(), "messages");
  } catch (const jinja::Error& e) {
    throw ApiError(400, std::string("the model's chat template fails on these messages: ") + e.what(), "messages");
  }
}

std::vector<std::string> ChatTemplate::stops() const {
  if (is_plain()) return {kTurnStop};
  return {};
}

ChatTemplate choose_chat_template(const std::string& flag, const Tokenizer& tok, std::string& warning) {
  warning.clear();
  if (flag == "plain") return ChatTemplate();
  const std::string bos = tok.bos_id() >= 0 ? tok.piece(tok.bos_id()) : "";
  const std::string eos = tok.eos_id() >= 0 ? tok.piece(tok.eos_id()) : "";
  if (!flag.empty()) return ChatTemplate(read_file(flag), bos, eos, flag);
  const auto& own = tok.settings().chat_template;
  if (!own) return ChatTemplate();
  try {
    return ChatTemplate(*own, bos, eos, "the model's");
  } catch (const Error& e) {
    warning = std::string(e.what()) + "; using the plain chat template instead (--chat-template FILE gives another)";
    return ChatTemplate();
  }
}

}  // namespace mmfree::serve
