#pragma once
// Test support: a layer's entry table from a compact description, for the tests of layers
// applied into trees (common/layers/rootfs.h).

#include <initializer_list>
#include <string_view>
#include <vector>

#include "common/layers/entry.h"

namespace regfs::testing {

// A layer from a compact description, one entry per string, in tar order:
//   "d/"      directory          "f"       regular file      "/"   the root ("./")
//   "s -> t"  symlink to t       "h => t"  hardlink to t     "c:x" char device, "p:x" fifo
inline std::vector<layers::Entry> layerEntries(std::initializer_list<std::string_view> lines) {
  std::vector<layers::Entry> entries;
  for (std::string_view line : lines) {
    layers::Entry e;
    if (size_t arrow = line.find(" -> "); arrow != std::string_view::npos) {
      e.type = layers::EntryType::kSymlink;
      e.linkTarget = line.substr(arrow + 4);
      line = line.substr(0, arrow);
    } else if (size_t link = line.find(" => "); link != std::string_view::npos) {
      e.type = layers::EntryType::kHardlink;
      e.linkTarget = line.substr(link + 4);
      line = line.substr(0, link);
    } else if (line.starts_with("c:")) {
      e.type = layers::EntryType::kCharDevice;
      line.remove_prefix(2);
    } else if (line.starts_with("p:")) {
      e.type = layers::EntryType::kFifo;
      line.remove_prefix(2);
    } else if (line.ends_with("/")) {
      e.type = layers::EntryType::kDirectory;
      line.remove_suffix(1);
    }
    e.path = line;
    e.mode = e.type == layers::EntryType::kDirectory ? 0755 : 0644;
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace regfs::testing
