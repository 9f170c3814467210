#pragma once
// Base64 as HTTP and JOSE use it. Decoding is strict: anything but the alphabet (no
// whitespace, no line breaks), a wrong length or misplaced padding gives nullopt, so a
// garbage Authorization header or token part is refused rather than half-decoded.

#include <optional>
#include <string>
#include <string_view>

namespace regfs {

// RFC 4648 section 4 ("+/"), padded to a multiple of four with '='.
std::string base64Encode(std::string_view bytes);
std::optional<std::string> base64Decode(std::string_view text);

// RFC 4648 section 5 ("-_") without padding, as JWS compact serialization writes it.
std::string base64UrlEncode(std::string_view bytes);
std::optional<std::string> base64UrlDecode(std::string_view text);

}  // namespace regfs
