#include "api/http/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <utility>

#include "common/curl/curl.h"
#include "common/error.h"

namespace regfs::api {
namespace {

// What the callbacks of one exchange share.
struct Exchange {
  CURL* curl;
  const OutboundRequest* request;
  OutboundResult* result;
  bool started = false;
  bool streaming = false;
};

void startBody(Exchange& x) {
  if (x.started) return;
  x.started = true;
  long status = 0;
  curl_easy_getinfo(x.curl, CURLINFO_RESPONSE_CODE, &status);
  x.streaming = x.request->sink && status >= 200 && status < 300;
  if (x.streaming && x.request->start)
    x.request->start(static_cast<int>(status), x.result->headers);
}

size_t receiveBody(char* data, size_t size, size_t n, void* user) {
  auto& x = *static_cast<Exchange*>(user);
  size_t bytes = size * n;
  startBody(x);
  if (x.streaming) return x.request->sink(std::string_view(data, bytes)) ? bytes : 0;
  std::string& body = x.result->body;
  size_t keep = std::min(bytes, OutboundResult::kMaxKeptBody - body.size());
  body.append(data, keep);
  if (keep < bytes) x.result->truncated = true;
  return bytes;
}

// Each response's header lines; a new status line (a redirect followed, a 100 Continue)
// starts the set over, so the final response's are what remain.
size_t receiveHeader(char* data, size_t size, size_t n, void* user) {
  auto& x = *static_cast<Exchange*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    x.result->headers.clear();
    return line.size();
  }
  size_t colon = line.find(':');
  if (colon == line.npos) return line.size();
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  x.result->headers[name].emplace_back(value);
  return line.size();
}

int checkCancel(void* cancel, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(cancel)->load() ? 1 : 0;
}

}  // namespace

HttpClient::HttpClient(CaTrust trust) : trust_(std::move(trust)) {
  initCurl();
  curl_.reset(curl_easy_init());
  if (!curl_) throw Error(ErrorKind::kInternal, "libcurl: cannot create a handle");
}

HttpClient::~HttpClient() = default;

OutboundResult HttpClient::send(const OutboundRequest& request, const std::atomic<bool>* cancel) {
  CURL* c = curl_.get();
  curl_easy_reset(c);  // options only: the connection cache survives
  char errorBuffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errorBuffer);
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(request.timeout).count();
  if (request.timeout.count() > 0) {
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(ms, 1)));
  }
  if (request.stallTimeout.count() > 0) {
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(request.stallTimeout.count()));
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(request.stallTimeout.count()));
  }
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  // libcurl reads neither SSL_CERT_FILE nor SSL_CERT_DIR by itself (CaTrust).
  if (!trust_.file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, trust_.file.c_str());
  if (!trust_.dir.empty()) curl_easy_setopt(c, CURLOPT_CAPATH, trust_.dir.c_str());
  OutboundResult result;
  Exchange exchange{c, &request, &result};
  if (request.receiveBuffer > 0) {
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, static_cast<long>(request.receiveBuffer));
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, receiveBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, receiveHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &exchange);
  if (!request.basicAuth.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERPWD, request.basicAuth.c_str());
  }
  if (request.followRedirects) {
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);  // Go's limit
  }
  if (cancel) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, checkCancel);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(cancel));
  }

  CurlHeaders headers;
  appendHeader(headers, "User-Agent: regfs");
  appendHeader(headers, "Expect:");  // no 100-continue round trip
  if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (request.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    if (!request.contentType.empty()) appendHeader(headers, "Content-Type: " + request.contentType);
  }
  for (const auto& [name, values] : request.headers) {
    for (const auto& value : values) appendHeader(headers, name + ": " + value);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    result.error = errorBuffer[0] ? errorBuffer : curl_easy_strerror(rc);
    return result;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  result.status = static_cast<int>(status);
  startBody(exchange);  // an empty body: `start` still runs
  return result;
}

bool isHttpUrl(const std::string& url) {
  CurlUrlPtr u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return false;
  // Each part is owned as soon as libcurl hands it out (on failure it hands out none).
  auto part = [&u](CURLUPart which) {
    char* got = nullptr;
    CURLUcode rc = curl_url_get(u.get(), which, &got, 0);
    CurlString owned(got);
    return rc == CURLUE_OK ? std::move(owned) : CurlString();
  };
  CurlString scheme = part(CURLUPART_SCHEME);
  CurlString host = part(CURLUPART_HOST);
  return scheme && host && *host &&
         (std::string(scheme.get()) == "http" || std::string(scheme.get()) == "https");
}

}  // namespace regfs::api
