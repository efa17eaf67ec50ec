#pragma once
// Chat messages as one prompt text. mmfree renders no Jinja, so a model's own chat_template is
// not used; every model gets this plain one (docs/SERVER.md):
//
//   <system messages, each followed by a blank line>
//   User: <content>
//   Assistant: <content>
//   ...
//   Assistant:
//
// and generation stops before the model starts the next "\nUser:" turn.
#include <string>
#include <vector>

#include "serve/request.h"

namespace mmfree::serve {

std::string render_chat(const std::vector<ChatMessage>& messages);

// The stop string that ends an assistant turn.
inline constexpr const char* kChatTurnStop = "\nUser:";

}  // namespace mmfree::serve
