#pragma once
// Checking a store: every blob re-hashed against its digest, every link checked to hold the
// digest its path names and to point at a blob that exists, every manifest's references
// checked to exist, upload sessions and leftovers of crashed writes found.
//
// Repair removes only what is provably broken, and never a blob whose content matches its
// digest: a corrupt blob (so a re-push can store it again), dangling and malformed links, a
// tag whose manifest is gone, torn upload sessions, temporary files of crashed atomic
// writes, layer indexes that are corrupt or whose blob is gone, and it moves back blobs an
// interrupted garbage-collect left in quarantine. What a writer in progress leaves for a moment (an
// upload without startedat yet, a temporary file, a tag directory before its current link, a link
// being written by distribution, which does not write atomically: empty, or the start of a digest)
// counts as broken only once it is older than `grace`. Symbolic links in the store are reported and
// never followed (the driver does not), so nothing outside the store is read or removed; repair
// leaves them to the operator.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/config/defaults.h"
#include "common/progress.h"
#include "common/store/store.h"

namespace regfs {

enum class FsckProblemKind {
  kCorruptBlob,       // content does not hash to the digest it is stored under
  kUnreadableBlob,    // the storage fails to read the blob (I/O error); repair leaves it
  kBlobWithoutData,   // a blob directory without a data file
  kBadLink,           // a link holding a digest other than the one its path names
  kMalformedLink,     // a link that holds no digest at all (empty, "garbage", a path, ...)
  kDanglingLink,      // a layer or revision link to a blob that is missing or corrupt
  kDanglingTag,       // a tag without a current link, or naming a manifest that is not there
  kInvalidManifest,   // a revision whose blob is not a manifest
  kMissingReference,  // a manifest referencing a blob or child manifest the repository lacks
  kTornUpload,        // an upload session without data or a readable startedat
  kTempFile,          // a temporary file left by a crashed atomic write
  kQuarantined,       // a blob an interrupted garbage-collect left in quarantine
  kBadLayerIndex,     // a layer index that is torn, corrupt, or of a blob that is gone
  kSymlink,           // a symbolic link in the store: never followed; repair leaves it
};

// "corrupt-blob", "dangling-link", ...
std::string_view fsckProblemName(FsckProblemKind kind);

struct FsckProblem {
  FsckProblemKind kind;
  std::string path;    // driver path of the file or directory concerned
  std::string detail;  // one line: what is wrong
  bool repaired = false;
};

struct FsckResult {
  std::vector<FsckProblem> problems;
  uint64_t blobs = 0;
  uint64_t blobBytes = 0;
  uint64_t repositories = 0;
  uint64_t manifests = 0;
  uint64_t links = 0;
  uint64_t uploads = 0;
  uint64_t layerIndexes = 0;
  // No problem is left: none was found, or every one was repaired.
  bool clean() const;
};

struct FsckOptions {
  bool repair = false;
  std::chrono::seconds grace = kDefaultMaintenanceGrace;
  ProgressFn progress;
};

FsckResult checkStore(Store& store, const FsckOptions& options);

}  // namespace regfs
