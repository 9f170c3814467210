#include "common/exit_status.h"

#include <sysexits.h>

namespace regfs {

int exitStatusFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return kExitUsage;
    case ErrorKind::kDigestInvalid:
    case ErrorKind::kNameInvalid:
    case ErrorKind::kTagInvalid:
    case ErrorKind::kManifestInvalid:
    case ErrorKind::kSizeInvalid:
    case ErrorKind::kRangeInvalid:
    case ErrorKind::kBlobUploadInvalid:
      return EX_DATAERR;
    case ErrorKind::kNotFound:
    case ErrorKind::kBlobUnknown:
    case ErrorKind::kBlobUploadUnknown:
    case ErrorKind::kManifestUnknown:
    case ErrorKind::kManifestBlobUnknown:
    case ErrorKind::kNameUnknown:
      return EX_NOINPUT;
    case ErrorKind::kUnsupported:
    case ErrorKind::kTooManyRequests:
    case ErrorKind::kUnavailable:
      return EX_UNAVAILABLE;
    case ErrorKind::kDenied:
    case ErrorKind::kUnauthorized:
      return EX_NOPERM;
    case ErrorKind::kConfigInvalid:
      return EX_CONFIG;
    case ErrorKind::kNoSpace:
    case ErrorKind::kIo:
      return EX_IOERR;
    case ErrorKind::kInternal:
      return EX_SOFTWARE;
  }
  return EX_SOFTWARE;
}

int exitStatusFor(const std::exception& e) {
  if (const auto* error = dynamic_cast<const Error*>(&e)) return exitStatusFor(error->kind());
  return EX_SOFTWARE;
}

}  // namespace regfs
