#include "common/error.h"

#include <cerrno>
#include <cstring>

namespace regfs {

std::string_view errorCode(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kDigestInvalid:
      return "DIGEST_INVALID";
    case ErrorKind::kNameInvalid:
      return "NAME_INVALID";
    case ErrorKind::kTagInvalid:
      return "TAG_INVALID";
    case ErrorKind::kManifestInvalid:
      return "MANIFEST_INVALID";
    case ErrorKind::kSizeInvalid:
      return "SIZE_INVALID";
    case ErrorKind::kRangeInvalid:
      return "RANGE_INVALID";
    case ErrorKind::kBlobUnknown:
      return "BLOB_UNKNOWN";
    case ErrorKind::kBlobUploadUnknown:
      return "BLOB_UPLOAD_UNKNOWN";
    case ErrorKind::kBlobUploadInvalid:
      return "BLOB_UPLOAD_INVALID";
    case ErrorKind::kManifestUnknown:
      return "MANIFEST_UNKNOWN";
    case ErrorKind::kManifestBlobUnknown:
      return "MANIFEST_BLOB_UNKNOWN";
    case ErrorKind::kNameUnknown:
      return "NAME_UNKNOWN";
    case ErrorKind::kUnsupported:
      return "UNSUPPORTED";
    case ErrorKind::kDenied:
      return "DENIED";
    case ErrorKind::kUnauthorized:
      return "UNAUTHORIZED";
    case ErrorKind::kTooManyRequests:
      return "TOOMANYREQUESTS";
    case ErrorKind::kUnavailable:
      return "UNAVAILABLE";
    default:
      return "UNKNOWN";
  }
}

void throwErrno(std::string_view what, std::string_view path, int err) {
  std::string message = std::string(what) + " " + std::string(path) + ": " + std::strerror(err);
  ErrorKind kind = ErrorKind::kIo;
  if (err == ENOSPC || err == EDQUOT) kind = ErrorKind::kNoSpace;
  if (err == ENOENT || err == ENOTDIR) kind = ErrorKind::kNotFound;
  throw Error(kind, message);
}

}  // namespace regfs
