#include "api/registry/registry.h"

#include "common/error.h"

namespace regfs::api {

std::optional<Hasher> HasherCache::take(const std::string& uuid, uint64_t offset) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(uuid);
  if (it == entries_.end()) return std::nullopt;
  std::optional<Hasher> out;
  if (it->second.offset == offset) out = std::move(it->second.hasher);
  ages_.erase(it->second.age);
  entries_.erase(it);
  return out;
}

void HasherCache::put(const std::string& uuid, uint64_t offset, Hasher hasher) {
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(uuid); it != entries_.end()) {
    ages_.erase(it->second.age);
    entries_.erase(it);
  }
  while (entries_.size() >= kMaxEntries && !ages_.empty()) {
    entries_.erase(ages_.front());
    ages_.pop_front();
  }
  ages_.push_back(uuid);
  entries_.emplace(uuid, Entry{offset, std::move(hasher), std::prev(ages_.end())});
}

void HasherCache::erase(const std::string& uuid) {
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(uuid); it != entries_.end()) {
    ages_.erase(it->second.age);
    entries_.erase(it);
  }
}

std::optional<std::string> MediaTypeCache::find(const Digest& digest) {
  std::lock_guard lock(mu_);
  auto it = types_.find(digest.str());
  if (it == types_.end()) return std::nullopt;
  return it->second;
}

void MediaTypeCache::add(const Digest& digest, const std::string& mediaType) {
  std::lock_guard lock(mu_);
  if (types_.size() >= kMaxEntries) types_.clear();
  types_.emplace(digest.str(), mediaType);
}

AfterAnswer::~AfterAnswer() { worker_.stop(); }

void AfterAnswer::add(std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(work));
    if (!worker_.started()) {
      worker_.start([this] {
        for (;;) {
          if (std::function<void()> next = take()) {
            next();
          } else if (worker_.stopping()) {
            return;  // and nothing is left
          } else {
            worker_.wait();
          }
        }
      });
    }
  }
  worker_.wake();
}

std::function<void()> AfterAnswer::take() {
  std::lock_guard lock(mu_);
  if (queue_.empty()) return {};
  std::function<void()> next = std::move(queue_.front());
  queue_.pop_front();
  return next;
}

void Registry::requireWritable() const {
  if (options_.readOnly) {
    throw Error(ErrorKind::kUnsupported, "the registry is in read-only mode");
  }
}

void Registry::requireDeleteEnabled() const {
  requireWritable();
  if (!options_.deleteEnabled) {
    throw Error(ErrorKind::kUnsupported, "deletes are disabled (storage.delete.enabled)");
  }
}

namespace {

class BufferingSink : public BodySink {
 public:
  BufferingSink(size_t limit, std::function<Response(std::string)> fn)
      : limit_(limit), fn_(std::move(fn)) {}
  void write(std::string_view data) override {
    if (body_.size() + data.size() > limit_) {
      throw Error(ErrorKind::kSizeInvalid,
                  "request body larger than " + std::to_string(limit_) + " bytes");
    }
    body_.append(data);
  }
  Response finish() override { return fn_(std::move(body_)); }

 private:
  size_t limit_;
  std::function<Response(std::string)> fn_;
  std::string body_;
};

}  // namespace

std::unique_ptr<BodySink> bufferBody(size_t limit, std::function<Response(std::string)> fn) {
  return std::make_unique<BufferingSink>(limit, std::move(fn));
}

}  // namespace regfs::api
