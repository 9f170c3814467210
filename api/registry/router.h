#pragma once
// Which resource a request path names. Repository names contain slashes, so the path is
// split and matched from its end, as distribution's routes are:
//   /v2/                                   base
//   /v2/_catalog                           catalog
//   /v2/<name>/tags/list                   tags
//   /v2/<name>/manifests/<reference>       manifest (tag or digest)
//   /v2/<name>/blobs/uploads/              upload start
//   /v2/<name>/blobs/uploads/<uuid>        upload session
//   /v2/<name>/blobs/<digest>              blob
//   /v2/<name>/referrers/<digest>          referrers
//   /v2/<name>/_regfs/files/<reference>/<path>   a file inside an image (regfs extension)
//   /v2/_regfs/catalog, /v2/_regfs/storage, /v2/_regfs/whoami      the web UI's registry-wide
//   /v2/<name>/_regfs/tags, /v2/<name>/_regfs/manifests,            and per-repository views
//   /v2/<name>/_regfs/image/<reference>                             (regfs extension)
//   /v2/<name>/_regfs/repository           the repository itself (regfs extension: DELETE)
// The name and reference are percent-decoded but not validated here (handlers answer
// NAME_INVALID, DIGEST_INVALID, ...); a path with empty, "." or ".." segments matches nothing,
// but for the <path> of a file inside an image, which is cleaned instead: empty and "."
// segments go, ".." takes the one before it away and stays at the image's root (never
// reaching the reference or the name). No repository name has a "_regfs" segment, so the
// first one marks the extension.

#include <optional>
#include <string>
#include <string_view>

namespace regfs::api {

enum class Resource {
  kBase,
  kCatalog,
  kTags,
  kManifest,
  kUploadStart,
  kUpload,
  kBlob,
  kReferrers,
  kFiles,
  kUiCatalog,
  kUiStorage,
  kUiWhoami,
  kUiTags,
  kUiManifests,
  kUiImage,
  kRepository,
};

struct Route {
  Resource resource = Resource::kBase;
  std::string name;       // repository name, empty for base and catalog
  std::string reference;  // tag, digest or upload uuid
  std::string path;       // kFiles: the cleaned path inside the image, "" for its root
  friend bool operator==(const Route&, const Route&) = default;
};

// nullopt: no such resource (404).
std::optional<Route> parseRoute(std::string_view rawPath);

// The path of a resource, for Location headers ("/v2/<name>/blobs/<digest>").
std::string blobPath(std::string_view name, std::string_view digest);
std::string uploadPath(std::string_view name, std::string_view uuid);
std::string manifestPath(std::string_view name, std::string_view reference);
// "/v2/<name>/_regfs/files/<reference>/<path>", `path` as given (already encoded for a URL).
std::string filesPath(std::string_view name, std::string_view reference, std::string_view path);

}  // namespace regfs::api
