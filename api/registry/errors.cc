#include "api/registry/errors.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

namespace regfs::api {

int statusFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
    case ErrorKind::kDigestInvalid:
    case ErrorKind::kNameInvalid:
    case ErrorKind::kTagInvalid:
    case ErrorKind::kManifestInvalid:
    case ErrorKind::kSizeInvalid:
    case ErrorKind::kBlobUploadInvalid:
    case ErrorKind::kManifestBlobUnknown:
      return 400;
    case ErrorKind::kUnauthorized:
      return 401;
    case ErrorKind::kDenied:
      return 403;
    case ErrorKind::kBlobUnknown:
    case ErrorKind::kBlobUploadUnknown:
    case ErrorKind::kManifestUnknown:
    case ErrorKind::kNameUnknown:
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kUnsupported:
      return 405;
    case ErrorKind::kRangeInvalid:
      return 416;
    case ErrorKind::kTooManyRequests:
      return 429;
    case ErrorKind::kUnavailable:
      return 503;
    case ErrorKind::kNoSpace:
      return 507;
    case ErrorKind::kConfigInvalid:
    case ErrorKind::kIo:
    case ErrorKind::kInternal:
      return 500;
  }
  return 500;
}

std::string_view errorMessage(std::string_view code) {
  if (code == "BLOB_UNKNOWN") return "blob unknown to registry";
  if (code == "BLOB_UPLOAD_INVALID") return "blob upload invalid";
  if (code == "BLOB_UPLOAD_UNKNOWN") return "blob upload unknown to registry";
  if (code == "DIGEST_INVALID") return "provided digest did not match uploaded content";
  if (code == "MANIFEST_BLOB_UNKNOWN") return "blob unknown to registry";
  if (code == "MANIFEST_INVALID") return "manifest invalid";
  if (code == "MANIFEST_UNKNOWN") return "manifest unknown";
  if (code == "NAME_INVALID") return "invalid repository name";
  if (code == "NAME_UNKNOWN") return "repository name not known to registry";
  if (code == "SIZE_INVALID") return "provided length did not match content length";
  if (code == "TAG_INVALID") return "manifest tag did not match URI";
  if (code == "RANGE_INVALID") return "invalid content range";
  if (code == "UNSUPPORTED") return "The operation is unsupported.";
  if (code == "DENIED") return "requested access to the resource is denied";
  if (code == "UNAUTHORIZED") return "authentication required";
  if (code == "TOOMANYREQUESTS") return "too many requests";
  if (code == "UNAVAILABLE") return "service unavailable";
  return "unknown error";
}

std::string errorJson(std::string_view code, std::string_view message, std::string_view detail) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("errors");
  w.StartArray();
  w.StartObject();
  w.Key("code");
  w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  w.Key("message");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.Key("detail");
  w.String(detail.data(), static_cast<rapidjson::SizeType>(detail.size()));
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

std::string_view errorMessage(ErrorKind kind) {
  // Storage failures have no code of their own (distribution answers UNKNOWN too); the
  // message says what happened, since clients print "unknown: <message>".
  switch (kind) {
    case ErrorKind::kNoSpace:
      return "no space left on device: the registry's storage is full";
    case ErrorKind::kIo:
      return "the registry's storage failed";
    default:
      return errorMessage(errorCode(kind));
  }
}

Response errorResponse(ErrorKind kind, const std::string& detail, int status) {
  Response r(status ? status : statusFor(kind));
  bool internal = r.status >= 500;
  r.body = errorJson(errorCode(kind), errorMessage(kind),
                     internal ? std::string_view() : std::string_view(detail));
  r.set("Content-Type", "application/json; charset=utf-8");
  return r;
}

Response errorResponse(RegfsError error, const std::string& detail) {
  auto answer = [&](int status, std::string_view code, std::string_view message) {
    Response r(status);
    r.body = errorJson(code, message, detail);
    r.set("Content-Type", "application/json; charset=utf-8");
    return r;
  };
  switch (error) {
    case RegfsError::kFileUnknown:
      return answer(404, "FILE_UNKNOWN", "no such file in the image");
    case RegfsError::kRootfsUnknown:
      return answer(404, "ROOTFS_UNKNOWN", "the manifest has no root file system");
    case RegfsError::kLayerUnreadable:
      // Not logged here: FileTrees logged it when it built the tree.
      return answer(500, "LAYER_UNREADABLE", "a layer of the image cannot be read");
    case RegfsError::kIndexPending: {
      Response r = answer(503, "INDEX_PENDING", "the image's layers are being indexed");
      r.set("Retry-After", "1");
      return r;
    }
  }
  return answer(500, "UNKNOWN", "unknown error");
}

namespace {

// Kinds raised by storage (or a bug), whose messages name server paths or object keys.
bool fromStorage(ErrorKind kind) {
  return kind == ErrorKind::kNotFound || kind == ErrorKind::kNoSpace || kind == ErrorKind::kIo ||
         kind == ErrorKind::kInternal || kind == ErrorKind::kConfigInvalid;
}

}  // namespace

Response errorResponse(const Error& error, int status) {
  bool storage = fromStorage(error.kind());
  Response r = errorResponse(error.kind(), storage ? std::string() : error.what(), status);
  // A refusal says why in its message too: docker and podman print only "denied: <message>"
  // (a push that would move an immutable tag shows the rule that holds it).
  if (error.kind() == ErrorKind::kDenied) {
    r.body = errorJson(errorCode(error.kind()), error.what(), error.what());
  }
  if (const auto* later = dynamic_cast<const RetryLater*>(&error)) {
    r.set("Retry-After", std::to_string(later->after().count()));
  }
  // The client is not told what failed (it names server paths); the operator is.
  if (storage || r.status >= 500)
    spdlog::error("{} {}: {}", r.status, errorCode(error.kind()), error.what());
  return r;
}

}  // namespace regfs::api
