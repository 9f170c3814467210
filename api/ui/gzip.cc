#include "api/ui/gzip.h"

#include <zlib.h>

#include <memory>

#include "common/error.h"

namespace regfs::api {

std::string gzipCompress(std::string_view data) {
  z_stream s{};
  // 15 + 16: the largest window, with a gzip header and trailer instead of zlib's.
  if (deflateInit2(&s, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw Error(ErrorKind::kInternal, "zlib: deflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> stream(&s, deflateEnd);
  std::string out(deflateBound(&s, data.size()), '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  if (deflate(&s, Z_FINISH) != Z_STREAM_END)
    throw Error(ErrorKind::kInternal, "zlib: deflate failed");
  out.resize(s.total_out);
  return out;
}

}  // namespace regfs::api
