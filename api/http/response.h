#pragma once
// What a resource handler answers: status, headers and either a small body held in memory
// or a range of a file: a local one the connection layer reads and sends in large pieces (as
// it grows, when it is still being written), or one on remote storage it streams through
// `stream` (one read, bounded memory).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/unique_fd.h"

namespace regfs::api {

// A local file still being written (a blob the pull-through cache is fetching,
// api/mirror/blob_fill.h): how much of it may be read yet.
class GrowingFile {
 public:
  virtual ~GrowingFile() = default;
  // The bytes from the start of the file that may be read now. When they do not reach past
  // `offset`, `wake` is kept and called once, on another thread, when they do or when the
  // writing failed. Throws Error(kUnavailable) once the writing failed (or the file ended
  // before `offset`): it will never be whole.
  virtual uint64_t readable(uint64_t offset, std::function<void()> wake) = 0;
};

struct FileBody {
  // Opens a local file for reading (Store::openLocalBlob, which follows no symlink);
  // throws Error(kBlobUnknown) when it is gone. `path` names it in messages.
  using Open = std::function<UniqueFd()>;
  Open open;
  std::filesystem::path path;
  uint64_t offset = 0;
  uint64_t length = 0;
  // Set when the file is not local: hands `length` bytes from `offset` to `sink` as they
  // arrive, as StorageDriver::readStream does (sink returns false to stop; throws on failure).
  using Stream = std::function<void(uint64_t offset, uint64_t length,
                                    const std::function<bool(std::string_view)>& sink)>;
  Stream stream;
  // Set for a local file still being written: `open` opens it, and only what this says may be
  // read of it is sent, as it grows.
  std::shared_ptr<GrowingFile> growing;
};

// What a request did to the registry, said by the handler that did it, for notification
// events (api/ops adds who asked and how). Set only on an answer that did it: a manifest
// GET or HEAD or a blob GET that answers (a pull), a manifest PUT or a committed or mounted
// blob (a push, a mount), a DELETE that deleted (a repository too: neither digest nor tag).
struct RegistryEvent {
  enum class Target { kManifest, kBlob, kRepository };
  std::string action;  // "pull", "push", "mount", "delete"
  Target target = Target::kBlob;
  std::string repository;
  std::string digest;  // empty when a tag was deleted
  std::string tag;     // the tag pulled, pushed or deleted by
  std::string mediaType;
  uint64_t size = 0;
  std::string fromRepository;  // a mount's source
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<FileBody> file;
  std::optional<RegistryEvent> event;

  Response() = default;
  explicit Response(int s) : status(s) {}

  // Replaces the header's value, or adds it.
  Response& set(std::string_view name, std::string value);
  std::optional<std::string_view> header(std::string_view name) const;
  // The number of body bytes a GET would carry (what Content-Length says, also for HEAD).
  uint64_t contentLength() const { return file ? file->length : body.size(); }
};

}  // namespace regfs::api
