#pragma once
// A storage driver that serves every call from another one: the base of drivers that change
// one thing about the driver under them (ObservedDriver tells what changed; a test's driver
// offers redirects) and override just that.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/storage/driver.h"

namespace regfs {

class ForwardingDriver : public StorageDriver {
 public:
  explicit ForwardingDriver(std::shared_ptr<StorageDriver> inner) : inner_(std::move(inner)) {}

  std::optional<FileInfo> stat(const std::string& p) const override { return inner_->stat(p); }
  std::optional<FileInfo> statFile(const std::string& p) const override {
    return inner_->statFile(p);
  }
  std::string read(const std::string& p) const override { return inner_->read(p); }
  std::string readRange(const std::string& p, uint64_t offset, uint64_t length) const override {
    return inner_->readRange(p, offset, length);
  }
  void readStream(const std::string& p, uint64_t offset, uint64_t length,
                  const std::function<bool(std::string_view)>& sink) const override {
    inner_->readStream(p, offset, length, sink);
  }
  void writeAtomic(const std::string& p, std::string_view bytes) override {
    inner_->writeAtomic(p, bytes);
  }
  std::unique_ptr<FileWriter> openAppend(const std::string& p) override {
    return inner_->openAppend(p);
  }
  bool createExclusive(const std::string& p, std::string_view bytes) override {
    return inner_->createExclusive(p, bytes);
  }
  std::vector<std::string> list(const std::string& p) const override { return inner_->list(p); }
  std::vector<std::pair<std::string, FileInfo>> listTree(const std::string& dir) const override {
    return inner_->listTree(dir);
  }
  void move(const std::string& from, const std::string& to) override { inner_->move(from, to); }
  void remove(const std::string& p) override { inner_->remove(p); }
  bool removeEmptyDirectory(const std::string& p) override {
    return inner_->removeEmptyDirectory(p);
  }
  bool isSymlink(const std::string& p) const override { return inner_->isSymlink(p); }
  std::optional<std::filesystem::path> localPath(const std::string& p) const override {
    return inner_->localPath(p);
  }
  UniqueFd openLocal(const std::string& p) const override { return inner_->openLocal(p); }
  std::optional<std::string> redirectUrl(const std::string& p) const override {
    return inner_->redirectUrl(p);
  }

 private:
  std::shared_ptr<StorageDriver> inner_;
};

}  // namespace regfs
