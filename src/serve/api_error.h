#pragma once
// An error answered to an HTTP client, in OpenAI's shape:
// {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}, with its HTTP status.
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace mmfree::serve {

struct ApiError : std::runtime_error {
  ApiError(int status, std::string message, std::string param = "", std::string type = "")
      : std::runtime_error(message), status(status), param(std::move(param)), type(std::move(type)) {}
  int status;
  std::string param;  // the request field at fault; "" when none
  std::string type;   // "" picks OpenAI's type for the status
};

// The JSON body for an error (status picks the type when e.type is empty).
nlohmann::json error_json(const ApiError& e);

// Shorthand for the common case: 400, naming the field.
inline ApiError bad_field(const std::string& field, const std::string& what) {
  return ApiError(400, "'" + field + "' " + what, field);
}

}  // namespace mmfree::serve
