#include "common/curl/curl.h"

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

}  // namespace regfs
