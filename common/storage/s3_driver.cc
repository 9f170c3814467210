#include "common/storage/s3_driver.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <utility>

#include "common/error.h"
#include "common/storage/s3_client.h"
#include "common/storage/s3_writer.h"

namespace regfs {

std::string s3Key(std::string_view rootdirectory, std::string_view path) {
  std::string root(rootdirectory);
  while (!root.empty() && root.back() == '/') root.pop_back();
  std::string key = root + std::string(path);
  size_t start = key.find_first_not_of('/');
  return start == std::string::npos ? std::string() : key.substr(start);
}

namespace {

using s3::MultipartUpload;
using s3::Part;

constexpr int kRedirectSeconds = 20 * 60;  // distribution's presigned URLs last 20 minutes

class S3Driver : public StorageDriver {
 public:
  S3Driver(const S3StorageConfig& config, bool redirect)
      : config_(config), redirect_(redirect), client_(std::make_shared<s3::Client>(config)) {}

  void probe() const { client_->probe(); }

  std::optional<FileInfo> stat(const std::string& path) const override {
    std::string k = key(path);
    if (!k.empty()) {
      if (auto file = statFile(path)) return file;
      // A file being appended to is a multipart upload in progress.
      if (auto upload = findUpload(k)) {
        uint64_t size = 0;
        for (const Part& p : client_->listParts(k, upload->uploadId)) size += p.size;
        return FileInfo{size, upload->initiated, false};
      }
    }
    s3::ListPage page = client_->listObjects(dirPrefix(k), "", 1, "");
    if (!page.objects.empty() || !page.prefixes.empty()) return FileInfo{0, {}, true};
    return std::nullopt;
  }

  std::optional<FileInfo> statFile(const std::string& path) const override {
    std::string k = key(path);
    if (k.empty()) return std::nullopt;
    return client_->head(k);
  }

  std::string read(const std::string& path) const override { return client_->get(key(path)); }

  std::string readRange(const std::string& path, uint64_t offset, uint64_t length) const override {
    if (length == 0) return {};
    return client_->getRange(key(path), offset, length);
  }

  void readStream(const std::string& path, uint64_t offset, uint64_t length,
                  const std::function<bool(std::string_view)>& sink) const override {
    if (length > 0) client_->stream(key(path), offset, length, sink);
  }

  void writeAtomic(const std::string& path, std::string_view bytes) override {
    client_->put(key(path), bytes);
  }

  std::unique_ptr<FileWriter> openAppend(const std::string& path) override {
    std::string k = key(path);
    if (auto upload = findUpload(k)) {
      return std::make_unique<s3::Writer>(
          client_, k, upload->uploadId, client_->listParts(k, upload->uploadId), config_.chunkSize);
    }
    if (auto object = client_->head(k)) {
      // Appending to a complete object: it becomes the start of a new upload.
      auto writer =
          std::make_unique<s3::Writer>(client_, k, "", std::vector<Part>{}, config_.chunkSize);
      writer->restartFromObject(object->size);
      return writer;
    }
    return std::make_unique<s3::Writer>(client_, k, client_->createMultipartUpload(k),
                                        std::vector<Part>{}, config_.chunkSize);
  }

  bool createExclusive(const std::string& path, std::string_view bytes) override {
    return client_->putIfAbsent(key(path), bytes);
  }

  std::vector<std::string> list(const std::string& path) const override {
    std::string prefix = dirPrefix(key(path));
    std::vector<std::string> names;
    std::string token;
    do {
      s3::ListPage page = client_->listObjects(prefix, "/", 0, token);
      for (const std::string& p : page.prefixes) {
        if (p.size() > prefix.size() + 1)
          names.push_back(p.substr(prefix.size(), p.size() - prefix.size() - 1));
      }
      for (const auto& [k, info] : page.objects) {
        if (k.size() > prefix.size() && k.back() != '/') names.push_back(k.substr(prefix.size()));
      }
      token = std::move(page.nextToken);
    } while (!token.empty());
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
  }

  std::vector<std::pair<std::string, FileInfo>> listTree(const std::string& dir) const override {
    std::string prefix = dirPrefix(key(dir));
    std::vector<std::pair<std::string, FileInfo>> files;
    for (auto& [k, info] : objectsUnder(prefix)) {
      if (k.size() > prefix.size() && k.back() != '/')
        files.emplace_back(dir + "/" + k.substr(prefix.size()), info);
    }
    return files;
  }

  void move(const std::string& from, const std::string& to) override {
    std::string src = key(from), dst = key(to);
    uint64_t size = 0;
    if (auto object = client_->head(src)) {
      size = object->size;
    } else if (auto upload = findUpload(src)) {
      // A file still being appended to: complete it first.
      s3::Writer writer(client_, src, upload->uploadId, client_->listParts(src, upload->uploadId),
                        config_.chunkSize);
      writer.commit();
      size = writer.size();
    } else {
      // A directory: every object under it, one by one.
      std::vector<std::string> keys = keysUnder(dirPrefix(src));
      if (keys.empty()) throw Error(ErrorKind::kNotFound, "S3 move: nothing at " + src);
      for (const std::string& k : keys) {
        client_->copyObject(k, dst + k.substr(src.size()));
        client_->deleteObject(k);
      }
      return;
    }
    client_->copy(src, dst, size);
    client_->deleteObject(src);
  }

  void remove(const std::string& path) override {
    std::string k = key(path);
    if (!k.empty()) client_->deleteObject(k);
    for (const std::string& under : keysUnder(dirPrefix(k))) client_->deleteObject(under);
    for (const auto& [uploadKey, upload] : client_->multipartUploads(k, true)) {
      client_->abortMultipartUpload(uploadKey, upload.uploadId);
    }
  }

  std::optional<std::filesystem::path> localPath(const std::string&) const override {
    return std::nullopt;
  }

  std::optional<std::string> redirectUrl(const std::string& path) const override {
    if (!redirect_) return std::nullopt;
    return client_->presignedGet(key(path), kRedirectSeconds);
  }

 private:
  std::string key(const std::string& path) const { return s3Key(config_.rootDirectory, path); }
  static std::string dirPrefix(const std::string& k) { return k.empty() ? k : k + "/"; }

  // Every object whose key starts with `prefix` (no delimiter: the whole subtree), with
  // its size and time.
  std::vector<std::pair<std::string, FileInfo>> objectsUnder(const std::string& prefix) const {
    std::vector<std::pair<std::string, FileInfo>> objects;
    std::string token;
    do {
      s3::ListPage page = client_->listObjects(prefix, "", 0, token);
      std::move(page.objects.begin(), page.objects.end(), std::back_inserter(objects));
      token = std::move(page.nextToken);
    } while (!token.empty());
    return objects;
  }

  std::vector<std::string> keysUnder(const std::string& prefix) const {
    std::vector<std::string> keys;
    for (auto& [k, info] : objectsUnder(prefix)) keys.push_back(std::move(k));
    return keys;
  }

  // The newest multipart upload in progress on exactly `k`.
  std::optional<MultipartUpload> findUpload(const std::string& k) const {
    std::optional<MultipartUpload> newest;
    for (auto& [uploadKey, upload] : client_->multipartUploads(k, false)) {
      if (!newest || upload.initiated.tv_sec > newest->initiated.tv_sec) newest = upload;
    }
    return newest;
  }

  S3StorageConfig config_;
  bool redirect_;
  std::shared_ptr<const s3::Client> client_;
};

}  // namespace

std::shared_ptr<StorageDriver> makeS3Driver(const S3StorageConfig& config, bool redirect) {
  if (!config.v4Auth) {
    throw Error(ErrorKind::kConfigInvalid,
                "storage.s3.v4auth: false (signature version 2) is not supported; regfs signs with "
                "version 4");
  }
  if (config.bucket.empty())
    throw Error(ErrorKind::kConfigInvalid, "storage.s3.bucket must be set");
  auto driver = std::make_shared<S3Driver>(config, redirect);
  driver->probe();
  return driver;
}

}  // namespace regfs
