#include "api/http/response.h"

#include "api/http/http.h"

namespace regfs::api {

Response& Response::set(std::string_view name, std::string value) {
  for (auto& [k, v] : headers) {
    if (equalsIgnoreCase(k, name)) {
      v = std::move(value);
      return *this;
    }
  }
  headers.emplace_back(std::string(name), std::move(value));
  return *this;
}

std::optional<std::string_view> Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (equalsIgnoreCase(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

}  // namespace regfs::api
