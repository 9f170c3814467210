#include "api/http/json.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace regfs::api {

std::string jsonString(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

std::string jsonStringArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += jsonString(items[i]);
  }
  return out + "]";
}

}  // namespace regfs::api
