#pragma once
// The chat page served at GET /: one self-contained HTML file (inline CSS and JavaScript, nothing
// fetched from elsewhere, no build step) that talks to /v1/chat/completions with "stream": true.
#include <string_view>

namespace mmfree::serve {

std::string_view chat_page_html();

}  // namespace mmfree::serve
