#pragma once
// Text for JSON, which holds only Unicode: bytes read as UTF-8 the way Go's decoder reads them
// (distribution and the clients decode with it).

#include <cstddef>
#include <string>
#include <string_view>

namespace regfs {

// The length of the well-formed UTF-8 sequence at the start of `s` (shortest form, no
// surrogates, at most U+10FFFF), or 0 when it is not one.
size_t utf8Length(std::string_view s);

// `bytes` with each byte that is not part of well-formed UTF-8 replaced by U+FFFD.
std::string utf8Text(std::string_view bytes);

}  // namespace regfs
