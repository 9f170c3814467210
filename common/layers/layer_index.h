#pragma once
// The index of one layer blob's contents: its tar entry table and the seek points of its
// compressed stream (stream.h), built in one pass over the blob and kept in the store under
// layout::layerIndexFile(blob), so every later read of a file inside the layer goes straight to
// its bytes.
//
// The file is written atomically and carries a SHA-256 of everything before it; a torn,
// corrupt or foreign file, or one of another format version, is never trusted: load() says
// there is none and the next get() builds it again. A layer that cannot be read as one (not
// a tar, corrupt, past a limit) gets an index too, recording why, so it is not scanned again
// on every access; an index recording a limit is built again when the limits change. Storage
// errors are never recorded.
//
// The format (version 1), little-endian:
//   "RGFSLIDX" | u32 version | u64 body size | u64 stored size | stored body | sha256 (32 bytes)
// The stored body is the body compressed with zstd; the body is a sequence of unsigned LEB128
// numbers and length-prefixed byte strings (layer_index.cc writes and reads it in one place).

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/error.h"
#include "common/layers/entry.h"
#include "common/layers/stream.h"
#include "common/layers/tar.h"
#include "common/store/store.h"

namespace regfs::layers {

// What building one index may cost, besides what the tar parser and the scan bound.
struct IndexLimits {
  TarLimits tar;
  ScanOptions scan;
  uint64_t maxIndexBytes = uint64_t{256} << 20;  // an index file, and its body once inflated
  // A fingerprint of these limits, kept in an index that records a limit it hit.
  std::string fingerprint() const;
};

struct LayerIndex {
  Digest blob;
  // Why the layer cannot be read (kInvalidArgument: not a tar or a corrupt stream;
  // kSizeInvalid: past a limit), with the parser's message; nullopt for a readable layer.
  struct Failure {
    ErrorKind kind = ErrorKind::kInvalidArgument;
    std::string message;
    std::string limits;  // IndexLimits::fingerprint() of the build that failed
    bool operator==(const Failure&) const = default;
  };
  std::optional<Failure> failure;
  SeekPoints stream;
  std::vector<Entry> entries;             // in tar order
  uint64_t droppedEntries = 0;            // names that would leave the root
  std::vector<std::string> droppedNames;  // the first few of them
  bool operator==(const LayerIndex&) const = default;
};

// One pass over `blob`: decompresses it, parses the tar and records the seek points. A layer
// that cannot be read comes back with `failure` set; storage errors are thrown (Error(kIo)).
LayerIndex buildIndex(const BlobSource& blob, const Digest& digest, const IndexLimits& limits = {});

// The file's bytes, and back. decodeIndex throws Error(kInvalidArgument) for anything but an
// intact index of version 1 for `expected` (checked before anything is allocated from it).
std::string encodeIndex(const LayerIndex& index);
LayerIndex decodeIndex(std::string_view bytes, const Digest& expected,
                       const IndexLimits& limits = {});

// What build() and get() throw when their `cancel` flag is set while the blob is read (a
// server stopping): nothing is stored, and the next get() builds the index from the start.
class IndexCancelled : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The layer indexes of one store. Thread-safe; concurrent get()s of one layer in this process
// build it once, and while anything holds the index get() hands out, later get()s share it
// rather than read the file again.
class LayerIndexes {
 public:
  explicit LayerIndexes(Store store, IndexLimits limits = {});

  // The stored index of `blob`; nullptr when there is none to trust (missing, torn, corrupt,
  // another version, or a failure recorded under other limits). A bad file is logged once.
  std::shared_ptr<const LayerIndex> load(const Digest& blob) const;
  // Builds the index of `blob` and stores it, replacing any. Throws Error(kBlobUnknown) when
  // the blob is not there and Error(kIo) when storage fails (nothing is stored then). Once
  // `cancel` (when given) is set, the next read of the blob throws IndexCancelled.
  std::shared_ptr<const LayerIndex> build(const Digest& blob,
                                          const std::atomic<bool>* cancel = nullptr);
  // The index in memory when one is held, else load(): never builds. nullptr when there is
  // none to trust yet.
  std::shared_ptr<const LayerIndex> find(const Digest& blob);
  // The index in memory when one is held, else load(), else build() when there is nothing to
  // trust.
  std::shared_ptr<const LayerIndex> get(const Digest& blob,
                                        const std::atomic<bool>* cancel = nullptr);
  // Removes the stored index (nothing if there is none).
  void remove(const Digest& blob);

  const Store& store() const { return store_; }
  const IndexLimits& limits() const { return limits_; }

 private:
  Store store_;
  IndexLimits limits_;
  std::shared_ptr<const LayerIndex> shared(const Digest& blob);
  std::shared_ptr<const LayerIndex> share(std::shared_ptr<const LayerIndex> index);

  std::mutex mutex_;  // guards building_ and loaded_
  // Lock of the layer get() builds, by digest.
  std::map<Digest, std::weak_ptr<std::mutex>> building_;
  std::map<Digest, std::weak_ptr<const LayerIndex>> loaded_;  // what get() handed out
  mutable std::mutex loggedMutex_;
  mutable std::map<Digest, bool>
      logged_;  // bad index files already logged; guarded by loggedMutex_
};

}  // namespace regfs::layers
