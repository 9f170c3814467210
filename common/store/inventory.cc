#include "common/store/inventory.h"

#include <functional>

#include "common/error.h"
#include "common/store/layout.h"

namespace regfs {

StoreCounts countStore(const Store& store) {
  StoreCounts counts;
  store.forEachBlob([&](const Digest&) { ++counts.blobs; });
  const StorageDriver& driver = store.driver();
  std::function<void(const std::string&)> walk = [&](const std::string& dir) {
    for (const std::string& entry : driver.list(dir)) {
      std::string child = dir + "/" + entry;
      if (entry == layout::kManifestsDir) {
        ++counts.repositories;
      } else if (entry == layout::kUploadsDir) {
        counts.uploads += driver.list(child).size();
      } else if (!entry.empty() && entry[0] != '_') {
        walk(child);
      }
    }
  };
  walk(layout::repositoriesRoot());
  return counts;
}

void probeStorage(StorageDriver& driver, bool write) {
  // As distribution's storagedriver check: a stat of the root, where "not found" is fine
  // (a fresh store), and anything else is not.
  (void)driver.stat("/");
  if (write) {
    driver.writeAtomic(layout::healthProbeFile(), "ok");
    driver.remove(layout::healthProbeFile());
  }
}

}  // namespace regfs
