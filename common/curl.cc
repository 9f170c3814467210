#include "common/curl.h"

#include <curl/curl.h>

#include <mutex>

#include "common/error.h"

namespace regfs {

void initCurl() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw Error(ErrorKind::kInternal, "libcurl: initialisation failed");
    }
  });
}

void appendHeader(CurlHeaders& headers, const std::string& line) {
  curl_slist* next = curl_slist_append(headers.get(), line.c_str());
  if (!next) throw Error(ErrorKind::kInternal, "libcurl: out of memory");
  // `next` heads the list `headers` held (or a new one): owned once, from its head.
  static_cast<void>(headers.release());
  headers.reset(next);
}

}  // namespace regfs
