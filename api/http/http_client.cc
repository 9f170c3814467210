#include "api/http/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "common/curl/curl.h"

namespace regfs::api {
namespace {

size_t discardBody(char*, size_t size, size_t n, void*) { return size * n; }

int checkCancel(void* cancel, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(cancel)->load() ? 1 : 0;
}

struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

HttpClient::HttpClient(CaTrust trust) : trust_(std::move(trust)) {
  initCurl();
  curl_ = curl_easy_init();
  if (!curl_) throw std::runtime_error("libcurl: cannot create a handle");
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

OutboundResult HttpClient::send(const OutboundRequest& request, const std::atomic<bool>* cancel) {
  CURL* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);  // options only: the connection cache survives
  char errorBuffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errorBuffer);
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(request.timeout).count();
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(ms, 1)));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  // libcurl reads neither SSL_CERT_FILE nor SSL_CERT_DIR by itself (CaTrust).
  if (!trust_.file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, trust_.file.c_str());
  if (!trust_.dir.empty()) curl_easy_setopt(c, CURLOPT_CAPATH, trust_.dir.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discardBody);
  if (request.followRedirects) {
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);  // Go's limit
  }
  if (cancel) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, checkCancel);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(cancel));
  }

  std::unique_ptr<curl_slist, SlistFree> headers;
  auto addHeader = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (!next) throw std::runtime_error("libcurl: out of memory");
    // `next` heads the list `headers` held (or a new one): owned once, from its head.
    static_cast<void>(headers.release());
    headers.reset(next);
  };
  addHeader("User-Agent: regfs");
  addHeader("Expect:");  // no 100-continue round trip
  if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    if (!request.contentType.empty()) addHeader("Content-Type: " + request.contentType);
  }
  for (const auto& [name, values] : request.headers) {
    for (const auto& value : values) addHeader(name + ": " + value);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

  CURLcode rc = curl_easy_perform(c);
  OutboundResult result;
  if (rc != CURLE_OK) {
    result.error = errorBuffer[0] ? errorBuffer : curl_easy_strerror(rc);
    return result;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  result.status = static_cast<int>(status);
  return result;
}

bool isHttpUrl(const std::string& url) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return false;
  char* scheme = nullptr;
  char* host = nullptr;
  bool ok = curl_url_get(u.get(), CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(u.get(), CURLUPART_HOST, &host, 0) == CURLUE_OK && host && *host &&
            (std::string(scheme) == "http" || std::string(scheme) == "https");
  curl_free(scheme);
  curl_free(host);
  return ok;
}

}  // namespace regfs::api
