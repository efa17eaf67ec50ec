#include "serve/api_error.h"

namespace mmfree::serve {

nlohmann::json error_json(const ApiError& e) {
  std::string type = e.type;
  if (type.empty()) {
    type = e.status == 401   ? "authentication_error"
           : e.status == 404 ? "not_found_error"
           : e.status == 503 ? "unavailable_error"
           : e.status >= 500 ? "server_error"
                             : "invalid_request_error";
  }
  nlohmann::json err = {{"message", e.what()}, {"type", type}, {"code", e.status}};
  err["param"] = e.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.param);
  return {{"error", err}};
}

}  // namespace mmfree::serve
