#include "api/registry/json_body.h"

#include "common/utc.h"
#include "common/utf8.h"

namespace regfs::api {

void writeKey(JsonWriter& w, std::string_view key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

void writeString(JsonWriter& w, std::string_view key, std::string_view value) {
  writeKey(w, key);
  std::string text = utf8Text(value);
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

void writeNumber(JsonWriter& w, std::string_view key, uint64_t value) {
  writeKey(w, key);
  w.Uint64(value);
}

void writeOptionalString(JsonWriter& w, std::string_view key,
                         const std::optional<std::string>& value) {
  if (value) {
    writeString(w, key, *value);
  } else {
    writeKey(w, key);
    w.Null();
  }
}

void writeStrings(JsonWriter& w, std::string_view key, const std::vector<std::string>& values) {
  writeKey(w, key);
  w.StartArray();
  for (const std::string& v : values) {
    std::string text = utf8Text(v);
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  }
  w.EndArray();
}

void writeStringMap(JsonWriter& w, std::string_view key,
                    const std::map<std::string, std::string>& values) {
  writeKey(w, key);
  w.StartObject();
  for (const auto& [k, v] : values) writeString(w, utf8Text(k), v);
  w.EndObject();
}

void writeTime(JsonWriter& w, std::string_view key, const std::optional<timespec>& t) {
  if (!t) {
    writeKey(w, key);
    w.Null();
    return;
  }
  writeString(w, key, rfc3339(t->tv_sec, static_cast<uint32_t>(t->tv_nsec)));
}

Response jsonResponse(const rapidjson::StringBuffer& body) {
  Response r(200);
  r.body.assign(body.GetString(), body.GetSize());
  r.body += '\n';
  r.set("Content-Type", "application/json; charset=utf-8");
  return r;
}

}  // namespace regfs::api
