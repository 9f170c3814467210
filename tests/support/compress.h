#pragma once
// Test support: layer bytes compressed in memory, as registries store them (zlib's gzip
// format, zstd). Bytes that do not compress (a layer spanning many seek points) are
// randomBytes of support/image.h.

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <string>
#include <string_view>

namespace regfs::testing {

// One gzip member by zlib at `level`; `header` sets the optional fields (FEXTRA, FNAME, ...).
inline std::string gzipBytes(std::string_view data, int level = 6, gz_header* header = nullptr) {
  z_stream s{};
  EXPECT_EQ(deflateInit2(&s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  if (header) {
    EXPECT_EQ(deflateSetHeader(&s, header), Z_OK);
  }
  std::string out(deflateBound(&s, data.size()) + 1024, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
  out.erase(s.total_out);
  deflateEnd(&s);
  return out;
}

// One zstd frame at `level`.
inline std::string zstdBytes(std::string_view data, int level = 3) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  EXPECT_FALSE(ZSTD_isError(n));
  out.erase(n);
  return out;
}

}  // namespace regfs::testing
