#pragma once
// JSON bodies the extension's handlers (files.cc, the web UI's views) write with RapidJSON:
// every string passes through utf8Text, so whatever a user pushed (names, labels, history)
// comes back as valid JSON text, escaped by the writer.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http/http.h"
#include "api/http/response.h"

namespace regfs::api {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void writeKey(JsonWriter& w, std::string_view key);
// "key": value, the value as text (bytes that are not UTF-8 read as U+FFFD).
void writeString(JsonWriter& w, std::string_view key, std::string_view value);
// "key": a count or size.
void writeNumber(JsonWriter& w, std::string_view key, uint64_t value);
// "key": value or null.
void writeOptionalString(JsonWriter& w, std::string_view key,
                         const std::optional<std::string>& value);
void writeStrings(JsonWriter& w, std::string_view key, const std::vector<std::string>& values);
void writeStringMap(JsonWriter& w, std::string_view key,
                    const std::map<std::string, std::string>& values);
// "key": an RFC 3339 UTC date, or null.
void writeTime(JsonWriter& w, std::string_view key, const std::optional<timespec>& t);

// A 200 answer of `body`, as application/json.
Response jsonResponse(const rapidjson::StringBuffer& body);

}  // namespace regfs::api
