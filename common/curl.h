#pragma once
// libcurl's process-wide state, for everything in regfs that connects out with it (the S3
// driver, the outgoing HTTP client), and its handles owned.

#include <curl/curl.h>

#include <string>

#include "common/handles.h"

namespace regfs {

// Initialises libcurl once per process, whoever asks first; later calls return at once.
// Throws Error(kInternal) if libcurl cannot initialise.
void initCurl();

using CurlPtr = CPtr<CURL, curl_easy_cleanup>;
using CurlHeaders = CPtr<curl_slist, curl_slist_free_all>;
using CurlUrlPtr = CPtr<CURLU, curl_url_cleanup>;
using CurlString = CPtr<char, curl_free>;  // a string libcurl allocated

// Appends the header `line` ("Name: value") to `headers` (an empty one starts a list).
// Throws Error(kInternal) when libcurl has no memory for it.
void appendHeader(CurlHeaders& headers, const std::string& line);

}  // namespace regfs
