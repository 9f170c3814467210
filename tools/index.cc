// regfsctl index ROOT [IMAGE] [--force] [--json]
// Builds the contents index of every layer of the images named (all of the store by default)
// that has none to trust, so browsing them never waits; --force builds them all again.
#include <chrono>
#include <iostream>

#include "common/layers/image.h"
#include "common/layers/layer_index.h"
#include "tools/command.h"
#include "tools/output.h"

namespace regfs::tools {
namespace {

struct IndexOptions {
  std::string root;
  std::string image;
  bool force = false;
  bool json = false;
};

struct Indexed {
  Descriptor layer;
  std::shared_ptr<const layers::LayerIndex> index;
  bool built = false;   // false: a trusted index was there
  std::string missing;  // the blob is not in the store: why nothing was built
  double seconds = 0;
};

Indexed indexLayer(layers::LayerIndexes& indexes, const Descriptor& layer, bool force) {
  Indexed out{layer, nullptr};
  auto start = std::chrono::steady_clock::now();
  try {
    out.index = force ? nullptr : indexes.load(layer.digest);
    if (!out.index) {
      out.index = indexes.build(layer.digest);
      out.built = true;
    }
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kBlobUnknown) throw;
    out.missing = e.what();  // a foreign layer, or a blob another tool removed
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

std::string state(const Indexed& x) {
  if (!x.missing.empty()) return "missing";
  if (x.index->failure) return "unreadable";
  return x.built ? "indexed" : "present";
}

void printJson(const std::vector<Indexed>& results) {
  JsonOut out;
  out.w().StartObject();
  out.key("layers");
  out.w().StartArray();
  for (const Indexed& x : results) {
    out.w().StartObject();
    out.field("digest", x.layer.digest.str());
    out.field("mediaType", x.layer.mediaType);
    out.field("state", state(x));
    if (x.index && !x.index->failure) {
      out.field("compression", layers::compressionName(x.index->stream.compression));
      out.field("entries", static_cast<uint64_t>(x.index->entries.size()));
      out.field("size", x.index->stream.compressedSize);
      out.field("uncompressedSize", x.index->stream.uncompressedSize);
      out.field("checkpoints", static_cast<uint64_t>(x.index->stream.checkpoints.size()));
    }
    if (x.index && x.index->failure) out.field("error", x.index->failure->message);
    if (!x.missing.empty()) out.field("error", x.missing);
    out.key("seconds");
    out.w().Double(x.seconds);
    out.w().EndObject();
  }
  out.w().EndArray();
  out.w().EndObject();
  out.print();
}

void printText(const std::vector<Indexed>& results) {
  size_t built = 0, bad = 0;
  for (const Indexed& x : results) {
    std::cout << state(x) << " " << x.layer.digest.str();
    if (!x.missing.empty()) {
      std::cout << ": " << x.missing;
      ++bad;
    } else if (x.index->failure) {
      std::cout << ": " << x.index->failure->message;
      ++bad;
    } else {
      const layers::SeekPoints& s = x.index->stream;
      std::cout << " (" << layers::compressionName(s.compression) << ", " << x.index->entries.size()
                << " entries, " << humanBytes(s.compressedSize) << " -> "
                << humanBytes(s.uncompressedSize) << ")";
    }
    if (x.built) {
      ++built;
      std::printf(" in %.2f s", x.seconds);
    }
    std::cout << "\n";
  }
  std::cout << results.size() << " layers: " << built << " indexed now, " << bad
            << " unreadable or missing\n";
}

int runIndex(const IndexOptions& opts) {
  StoreAt at = openStore(opts.root);
  std::optional<layers::ImageReference> ref;
  if (!opts.image.empty()) ref = layers::parseImageReference(opts.image);
  layers::LayerIndexes indexes(*at.store);
  std::vector<Indexed> results;
  for (const Descriptor& layer : layers::layersOf(*at.store, ref))
    results.push_back(indexLayer(indexes, layer, opts.force));
  if (opts.json) {
    printJson(results);
  } else {
    printText(results);
  }
  return kExitOk;
}

}  // namespace

void addIndexCommand(Commands& commands) {
  auto opts = std::make_shared<IndexOptions>();
  Command cmd = commands.add(
      "index", "build the contents index of image layers that have none (images as files)",
      [opts] { return runIndex(*opts); });
  addRootArgument(cmd, opts->root);
  cmd.option("IMAGE", opts->image,
             "NAME, NAME:TAG or NAME@DIGEST (default: every image of the store)");
  cmd.flag("--force", opts->force, "build every index again, also those already there");
  addJsonFlag(cmd, opts->json);
}

}  // namespace regfs::tools
