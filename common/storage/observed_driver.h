#pragma once
// A storage driver that serves every call from another one and tells an observer each path
// a call changed (written, opened for appending, created, moved from or to, removed) once
// the call ends, so that what a process keeps about the store (the web UI's summaries) can
// follow the changes made through it. Changes made by other processes on the same storage
// are not seen: an observer bounds its trust in what it keeps.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/storage/forwarding_driver.h"

namespace regfs {

class ObservedDriver : public ForwardingDriver {
 public:
  using Observer = std::function<void(std::string_view path)>;
  explicit ObservedDriver(std::shared_ptr<StorageDriver> inner)
      : ForwardingDriver(std::move(inner)) {}
  // Sets the observer, once, before the driver is shared with other threads. It is called
  // after the change (also when the call threw: a failed change may have changed something),
  // on the changing thread, must not throw and must not call back into the driver.
  void observe(Observer observer) { observer_ = std::move(observer); }

  void writeAtomic(const std::string& p, std::string_view bytes) override {
    Changed changed(*this, p);
    ForwardingDriver::writeAtomic(p, bytes);
  }
  std::unique_ptr<FileWriter> openAppend(const std::string& p) override {
    Changed changed(*this, p);
    return ForwardingDriver::openAppend(p);
  }
  bool createExclusive(const std::string& p, std::string_view bytes) override {
    Changed changed(*this, p);
    return ForwardingDriver::createExclusive(p, bytes);
  }
  void move(const std::string& from, const std::string& to) override {
    Changed changedFrom(*this, from);
    Changed changedTo(*this, to);
    ForwardingDriver::move(from, to);
  }
  void remove(const std::string& p) override {
    Changed changed(*this, p);
    ForwardingDriver::remove(p);
  }
  bool removeEmptyDirectory(const std::string& p) override {
    Changed changed(*this, p);
    return ForwardingDriver::removeEmptyDirectory(p);
  }

 private:
  // Tells the observer when the call ends, whether it returned or threw.
  class Changed {
   public:
    Changed(const ObservedDriver& driver, const std::string& path) : driver_(driver), path_(path) {}
    ~Changed() {
      if (driver_.observer_) driver_.observer_(path_);
    }
    Changed(const Changed&) = delete;
    Changed& operator=(const Changed&) = delete;

   private:
    const ObservedDriver& driver_;
    const std::string& path_;
  };

  Observer observer_;
};

}  // namespace regfs
