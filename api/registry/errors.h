#pragma once
// The one place where regfs errors become HTTP: ErrorKind -> status and OCI error code,
// and the spec's body {"errors":[{"code":..,"message":..,"detail":..}]}.

#include <string>
#include <string_view>

#include "api/http/response.h"
#include "common/error.h"

namespace regfs::api {

// The HTTP status the registry answers for an error of `kind`.
int statusFor(ErrorKind kind);
// The spec's short message for an OCI code ("blob unknown to registry").
std::string_view errorMessage(std::string_view code);
// The message answered for an error of `kind`: the code's, or a plain statement of a storage
// failure ("no space left on device: …") for the kinds that only have UNKNOWN.
std::string_view errorMessage(ErrorKind kind);
// {"errors":[{"code":"<code>","message":"<message>","detail":"<detail>"}]}
std::string errorJson(std::string_view code, std::string_view message, std::string_view detail);

// The response for `error`; `status` overrides the kind's usual status (0 keeps it).
// Storage and internal failures, a path not found included, are answered without their
// detail (it names server paths).
Response errorResponse(const Error& error, int status = 0);
Response errorResponse(ErrorKind kind, const std::string& detail, int status = 0);

// regfs's own codes, for answers of its extensions that the spec has no code for
// (docs/api.md lists them). Their detail is always answered: it names no server path.
enum class RegfsError {
  kFileUnknown,      // FILE_UNKNOWN 404: no such path inside the image
  kRootfsUnknown,    // ROOTFS_UNKNOWN 404: the manifest has no root file system of its own
  kLayerUnreadable,  // LAYER_UNREADABLE 500: a layer of the image that regfs cannot read
  kIndexPending,     // INDEX_PENDING 503 (Retry-After): the image's layers are being indexed
};
Response errorResponse(RegfsError error, const std::string& detail);

}  // namespace regfs::api
