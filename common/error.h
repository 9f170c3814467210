#pragma once
// The one error type of regfs. Everything in common/ reports failure by throwing
// regfs::Error; its kind tells the API which OCI error code and status to answer
// and tells the tools which message and exit status to give.

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

namespace regfs {

enum class ErrorKind {
  kInvalidArgument,      // malformed input that has no more specific kind
  kDigestInvalid,        // DIGEST_INVALID: bad syntax, or content does not match
  kNameInvalid,          // NAME_INVALID
  kTagInvalid,           // TAG_INVALID
  kManifestInvalid,      // MANIFEST_INVALID
  kSizeInvalid,          // SIZE_INVALID: length does not match, or over a limit
  kRangeInvalid,         // RANGE_INVALID: an upload chunk out of order
  kBlobUnknown,          // BLOB_UNKNOWN
  kBlobUploadUnknown,    // BLOB_UPLOAD_UNKNOWN
  kBlobUploadInvalid,    // BLOB_UPLOAD_INVALID
  kManifestUnknown,      // MANIFEST_UNKNOWN
  kManifestBlobUnknown,  // MANIFEST_BLOB_UNKNOWN
  kNameUnknown,          // NAME_UNKNOWN
  kUnsupported,          // UNSUPPORTED: the operation is disabled or unknown
  kDenied,               // DENIED: forbidden for this client (e.g. no such scope in its token)
  kUnauthorized,         // UNAUTHORIZED
  kTooManyRequests,      // TOOMANYREQUESTS
  kUnavailable,          // UNAVAILABLE: a service regfs relies on (a mirror's upstream) is down
  kConfigInvalid,        // configuration that cannot be used
  kNotFound,             // a storage path that does not exist
  kNoSpace,              // storage is full
  kIo,                   // storage failed
  kInternal,             // a bug
};

// The OCI code for a kind ("BLOB_UNKNOWN"), or "UNKNOWN" when there is none.
std::string_view errorCode(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// kTooManyRequests that knows when to come back: the client is answered Retry-After.
class RetryLater : public Error {
 public:
  RetryLater(const std::string& message, std::chrono::seconds after)
      : Error(ErrorKind::kTooManyRequests, message), after_(after) {}
  std::chrono::seconds after() const { return after_; }

 private:
  std::chrono::seconds after_;
};

// Throws kIo (or kNoSpace / kNotFound by errno) naming the operation and path.
[[noreturn]] void throwErrno(std::string_view what, std::string_view path, int err);

}  // namespace regfs
