#pragma once
// RFC 3986 percent-encoding, the one encoder behind URLs, query strings, S3 signatures and
// RFC 6266 file names.

#include <string>
#include <string_view>

namespace regfs {

// `text` with every byte other than the unreserved characters (A-Z a-z 0-9 - . _ ~) and those
// in `keep` written as %XX (upper-case hex).
std::string percentEncode(std::string_view text, std::string_view keep = {});

}  // namespace regfs
