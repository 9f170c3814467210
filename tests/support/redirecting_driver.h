#pragma once
// A storage driver that serves every call from another one but offers a redirect URL for
// every path, as an object store does with storage.redirect on: the handlers' redirect
// paths, without an object store.

#include <memory>
#include <string>

#include "common/storage/forwarding_driver.h"

namespace regfs::testing {

class RedirectingDriver : public ForwardingDriver {
 public:
  explicit RedirectingDriver(std::shared_ptr<StorageDriver> inner)
      : ForwardingDriver(std::move(inner)) {}

  std::optional<std::string> redirectUrl(const std::string& path) const override {
    return "https://storage.example/" + path;
  }
};

}  // namespace regfs::testing
