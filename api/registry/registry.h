#pragma once
// The registry behind the HTTP layer: the store, the options that change behaviour, and
// the entry point that turns one request into a response. Request bodies are handed over
// as they arrive (BodySink), so uploads stream to the store and never sit in memory.

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/http/http.h"
#include "api/http/response.h"
#include "api/mirror/mirror.h"
#include "api/registry/index_builds.h"
#include "api/registry/options.h"
#include "common/browse/facts.h"
#include "common/browse/summaries.h"
#include "common/digest.h"
#include "common/layers/file_trees.h"
#include "common/store/store.h"
#include "common/worker.h"

namespace regfs::api {

// Hash state of chunked uploads, by upload id and the offset it has hashed up to, so a
// chunked upload is hashed once as it streams. Only a cache: a miss (another process took
// the previous chunk, or the entry was evicted) makes commit re-hash the data.
class HasherCache {
 public:
  static constexpr size_t kMaxEntries = 4096;
  // Removes and returns the state of `uuid` if it covers exactly `offset` bytes.
  std::optional<Hasher> take(const std::string& uuid, uint64_t offset);
  void put(const std::string& uuid, uint64_t offset, Hasher hasher);
  void erase(const std::string& uuid);

 private:
  struct Entry {
    uint64_t offset;
    Hasher hasher;
    std::list<std::string>::iterator age;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> ages_;  // oldest first
};

// The media type of each manifest served lately, by digest: the bytes stored under a digest
// never change, so a GET need not parse the same manifest again (parsing was a tenth of
// the server's time under load). Forgotten all at once when full. Thread-safe.
class MediaTypeCache {
 public:
  static constexpr size_t kMaxEntries = 4096;
  std::optional<std::string> find(const Digest& digest);
  void add(const Digest& digest, const std::string& mediaType);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::string> types_;  // by digest string, under mu_
};

// Work a request leaves for after its answer (removing what a committed upload left
// behind: the blob is in place either way), done in order on a thread of its own, started
// at the first piece of work. Whatever is queued is done before this goes away.
class AfterAnswer {
 public:
  AfterAnswer() = default;
  ~AfterAnswer();
  AfterAnswer(const AfterAnswer&) = delete;
  AfterAnswer& operator=(const AfterAnswer&) = delete;
  void add(std::function<void()> work);

 private:
  // The next piece of work, or an empty function when none is queued.
  std::function<void()> take();
  std::mutex mu_;
  std::deque<std::function<void()>> queue_;  // under mu_
  Worker worker_{"after-answer"};            // last: stopped first
};

class Registry {
 public:
  // `fileTrees` (over the same store) serves the files inside images; without it the
  // extension answers UNSUPPORTED. With `mirror` the registry is a pull-through cache:
  // reads fetch what is missing through it, writes answer UNSUPPORTED.
  Registry(Store store, RegistryOptions options,
           std::shared_ptr<layers::FileTrees> fileTrees = nullptr,
           std::shared_ptr<mirror::Mirror> mirror = nullptr)
      : store_(std::move(store)),
        options_(options),
        fileTrees_(std::move(fileTrees)),
        indexBuilds_(fileTrees_ ? std::make_unique<IndexBuilds>(fileTrees_) : nullptr),
        mirror_(std::move(mirror)),
        summaries_(std::make_shared<browse::StoreSummaries>(store_, facts_, options_.uiRefresh)) {}
  Store& store() { return store_; }
  layers::FileTrees* fileTrees() { return fileTrees_.get(); }
  // The builds of indexes that requests for files wait for; null without fileTrees().
  IndexBuilds* indexBuilds() { return indexBuilds_.get(); }
  mirror::Mirror* mirror() { return mirror_.get(); }
  const RegistryOptions& options() const { return options_; }
  HasherCache& hashers() { return hashers_; }
  MediaTypeCache& mediaTypes() { return mediaTypes_; }
  // What the web UI's views read from manifests, by digest.
  browse::FactCache& facts() { return facts_; }
  // The catalog's and the storage view's figures, kept between requests; they follow the
  // store's changes when its driver tells them (ObservedDriver, Service does).
  browse::StoreSummaries& summaries() { return *summaries_; }
  std::weak_ptr<browse::StoreSummaries> summariesRef() { return summaries_; }
  AfterAnswer& afterAnswer() { return afterAnswer_; }

  // Throws Error(kUnsupported) in read-only mode.
  void requireWritable() const;
  // Throws Error(kUnsupported) unless deletes are enabled (and writes allowed).
  void requireDeleteEnabled() const;

 private:
  Store store_;
  RegistryOptions options_;
  std::shared_ptr<layers::FileTrees> fileTrees_;
  std::unique_ptr<IndexBuilds> indexBuilds_;
  std::shared_ptr<mirror::Mirror> mirror_;
  HasherCache hashers_;
  MediaTypeCache mediaTypes_;
  browse::FactCache facts_;
  std::shared_ptr<browse::StoreSummaries> summaries_;  // after store_ and facts_, which it uses
  AfterAnswer afterAnswer_;  // last: its thread may use the store until it is joined
};

// Receives a request body as it arrives, then answers.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual void write(std::string_view data) = 0;
  virtual Response finish() = 0;
  // Memory the next body bytes may be received into directly, sparing write()'s copy (empty
  // when the sink has none); received(n) then takes the first n bytes put there.
  virtual std::span<char> room() { return {}; }
  virtual void received(size_t) {}
};

// A request's first answer: either a response right away (the body, if any, is not read)
// or a sink for the body that answers when it ends.
struct Dispatch {
  std::optional<Response> response;
  std::unique_ptr<BodySink> sink;

  static Dispatch respond(Response r) { return Dispatch{std::move(r), nullptr}; }
  static Dispatch stream(std::unique_ptr<BodySink> sink) {
    return Dispatch{std::nullopt, std::move(sink)};
  }
};

// A sink that keeps up to `limit` bytes (Error(kSizeInvalid) beyond) and hands them to `fn`.
std::unique_ptr<BodySink> bufferBody(size_t limit, std::function<Response(std::string)> fn);

}  // namespace regfs::api
