#pragma once
// Small JSON bodies of the API (catalog, tags list), written as distribution writes them.

#include <string>
#include <string_view>
#include <vector>

namespace regfs::api {

// A JSON string literal, quotes included.
std::string jsonString(std::string_view s);
// A JSON array of strings.
std::string jsonStringArray(const std::vector<std::string>& items);

}  // namespace regfs::api
