#include "serve/chat_template.h"

namespace mmfree::serve {

std::string render_chat(const std::vector<ChatMessage>& messages) {
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

}  // namespace mmfree::serve
