// Fuzz target: the tar parser of the layer-contents room (common/layers/tar.h), and cleanPath.
// Input: a tar stream. It is parsed whole and again fed in three pieces cut where its hash
// says; both runs must agree, and every entry must keep the header's promises: clean paths
// within the limits, data offsets that only go forward, extents in order within the size.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/layers/tar.h"
#include "tests/fuzz/fuzz_check.h"

namespace regfs::fuzz {
namespace {

using layers::Entry;
using layers::EntryType;
using layers::TarLimits;
using layers::TarParser;

constexpr TarLimits kLimits{.maxEntries = 200,
                            .maxPathBytes = 300,
                            .maxDepth = 12,
                            .maxExtendedBytes = 16 * 1024,
                            .maxXattrBytes = 1024,
                            .maxSparseExtents = 64};

// No empty, "." or ".." component, no leading or trailing '/'; returns the components.
size_t checkClean(std::string_view path, std::string_view what) {
  if (path.empty()) return 0;
  size_t start = 0;
  size_t components = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(start, slash - start);
    FUZZ_CHECK(!part.empty() && part != "." && part != "..",
               std::string(what) + " is not clean: " + show(path));
    ++components;
    start = slash + 1;
  }
  return components;
}

// A name of an entry: clean, without NUL, within the limits.
void checkName(const std::string& path, std::string_view what) {
  FUZZ_CHECK(path.find('\0') == std::string::npos, std::string(what) + " has a NUL: " + show(path));
  FUZZ_CHECK(checkClean(path, what) <= kLimits.maxDepth,
             std::string(what) + " is too deep: " + show(path));
  FUZZ_CHECK(path.size() <= kLimits.maxPathBytes, std::string(what) + " is too long");
}

struct Run {
  bool ok = false;
  std::vector<Entry> entries;
  uint64_t dropped = 0;
};

Run parse(std::string_view input, const std::vector<size_t>& cuts) {
  Run run;
  uint64_t lastDataEnd = 0;
  TarParser* self = nullptr;
  TarParser parser(
      [&](Entry&& e) {
        checkName(e.path, "path");
        FUZZ_CHECK(e.mode <= 07777, "mode has type bits");
        FUZZ_CHECK(e.mtimeNsec < 1'000'000'000u, "mtimeNsec past a second");
        uint64_t xattrBytes = 0;
        for (const auto& [name, value] : e.xattrs) xattrBytes += name.size() + value.size();
        FUZZ_CHECK(xattrBytes <= kLimits.maxXattrBytes, "xattrs over the limit");
        if (e.type == EntryType::kHardlink) {
          FUZZ_CHECK(!e.linkTarget.empty(), "hardlink to the root");
          checkName(e.linkTarget, "hardlink target");
        }
        if (e.path.empty()) FUZZ_CHECK(e.type == EntryType::kDirectory, "root is not a dir");
        if (e.type != EntryType::kRegular) {
          FUZZ_CHECK(e.size == 0 && e.sparse.empty() && e.dataOffset == 0,
                     "a non-regular entry has data");
        } else {
          FUZZ_CHECK(e.dataOffset % 512 == 0 && e.dataOffset >= 512, "dataOffset off a block");
          FUZZ_CHECK(e.dataOffset >= lastDataEnd, "dataOffset went back");
          FUZZ_CHECK(e.dataOffset <= self->offset() + 512, "dataOffset ahead of the input");
          uint64_t stored = e.size;
          if (!e.sparse.empty()) {
            FUZZ_CHECK(e.sparse.size() <= kLimits.maxSparseExtents, "too many extents");
            stored = 0;
            uint64_t end = 0;
            for (const layers::Extent& x : e.sparse) {
              FUZZ_CHECK(x.offset >= end && x.length <= e.size && x.offset <= e.size - x.length,
                         "extents out of order or past the size");
              end = x.offset + x.length;
              stored += x.length;
            }
          }
          lastDataEnd = e.dataOffset + stored;
        }
        run.entries.push_back(std::move(e));
      },
      kLimits);
  self = &parser;
  run.ok =
      throwsOnly("TarParser", {ErrorKind::kInvalidArgument, ErrorKind::kSizeInvalid}, false, [&] {
        size_t at = 0;
        for (size_t cut : cuts) {
          parser.feed(input.substr(at, cut - at));
          at = cut;
        }
        parser.feed(input.substr(at));
        FUZZ_CHECK(parser.offset() == input.size(), "offset() is not the input");
        parser.finish();
      });
  FUZZ_CHECK(parser.entries() == run.entries.size(), "entries() miscounts");
  FUZZ_CHECK(parser.entries() + parser.dropped() <= kLimits.maxEntries, "past maxEntries");
  FUZZ_CHECK(parser.droppedNames().size() == std::min<uint64_t>(parser.dropped(), 16),
             "droppedNames does not keep the first 16");
  run.dropped = parser.dropped();
  return run;
}

}  // namespace
}  // namespace regfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace regfs;
  using namespace regfs::fuzz;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  std::optional<std::string> cleaned = layers::cleanPath(input.substr(0, 600));
  if (cleaned) {
    checkClean(*cleaned, "cleanPath");
    FUZZ_CHECK(layers::cleanPath(*cleaned) == cleaned, "cleanPath is not idempotent");
  }

  size_t hash = std::hash<std::string_view>()(input);
  size_t a = size == 0 ? 0 : hash % (size + 1);
  size_t b = size == 0 ? 0 : (hash / 7919) % (size + 1);
  if (a > b) std::swap(a, b);
  Run whole = parse(input, {});
  Run pieces = parse(input, {a, b});
  FUZZ_CHECK(
      whole.ok == pieces.ok && whole.entries == pieces.entries && whole.dropped == pieces.dropped,
      "a split changed the entries or the outcome");
  return 0;
}
