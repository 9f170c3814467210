#pragma once
// What an image config (OCI image-spec config.md, Docker's image JSON) says about the image:
// its platform, its run settings and its history, as the web UI shows them.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace regfs::browse {

struct HistoryEntry {
  std::optional<std::string> created;  // as the config has it (RFC 3339 text)
  std::string createdBy;
  std::string comment;
  bool emptyLayer = false;  // made no layer
};

struct ImageConfig {
  std::optional<std::string> created;
  std::string architecture;
  std::string os;
  std::string variant;
  std::string user;
  std::string workingDir;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;
  std::vector<std::string> exposedPorts;  // the keys of config.ExposedPorts, "8080/tcp"
  std::vector<std::string> volumes;       // the keys of config.Volumes
  std::map<std::string, std::string> labels;
  std::vector<HistoryEntry> history;
};

// An image config larger than this is not read (a config is a few KiB; the bound keeps a
// hostile blob from costing memory).
inline constexpr size_t kMaxImageConfigBytes = 4 * 1024 * 1024;

// The config in `bytes`, or nullopt when they are not a JSON object. Fields that are absent or
// of another JSON type read empty; text that is not UTF-8 reads as U+FFFD.
std::optional<ImageConfig> parseImageConfig(std::string_view bytes);

}  // namespace regfs::browse
