#include "common/storage/s3_writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "common/error.h"

namespace regfs::s3 {
namespace {

constexpr uint64_t kMinPart = uint64_t{5} << 20;  // S3's smallest part but the last
// Parts one writer sends at once: S3 takes parts in parallel, so a few in flight keep the
// link busy while the next one fills. Memory: this many chunksize parts plus one (40 MiB
// with the default 8 MiB parts).
constexpr size_t kPartsInFlight = 4;

}  // namespace

Writer::Writer(std::shared_ptr<const Client> client, std::string key, std::string uploadId,
               std::vector<Part> parts, uint64_t chunkSize)
    : client_(std::move(client)),
      key_(std::move(key)),
      uploadId_(std::move(uploadId)),
      parts_(std::move(parts)),
      chunkSize_(chunkSize) {
  for (const Part& p : parts_) size_ += p.size;
  renumber();
}

Writer::~Writer() {
  for (auto& [number, sender] : senders_) sender.wait();
  for (auto& [number, result] : sent_->results) {
    if (auto* error = std::get_if<std::exception_ptr>(&result)) {
      try {
        std::rethrow_exception(*error);
      } catch (const std::exception& e) {
        spdlog::warn("a part of {} was not stored: {}", key_, e.what());
      }
    }
  }
}

void Writer::write(const void* data, size_t size) {
  checkUsable();
  if (size == 0) return;
  if (senders_.empty() && !parts_.empty() && parts_.back().size < kMinPart && buffer_.empty()) {
    mergeSmallTail();
  }
  const char* bytes = static_cast<const char*>(data);
  size_ += size;
  while (size > 0) {
    // One allocation per part: the buffer never grows past a part, nor copies itself.
    if (buffer_.capacity() < chunkSize_) buffer_.reserve(static_cast<size_t>(chunkSize_));
    size_t take = std::min<size_t>(size, static_cast<size_t>(chunkSize_ - buffer_.size()));
    buffer_.append(bytes, take);
    bytes += take;
    size -= take;
    if (buffer_.size() >= chunkSize_) uploadBuffer();
  }
}

void Writer::flush() {
  checkUsable();
  if (!buffer_.empty()) uploadBuffer();
  settle();
}

void Writer::commit() {
  flush();
  if (parts_.empty()) {
    if (baseObject_) {  // the complete object is still the whole file
      client_->abortMultipartUpload(key_, uploadId_);
      return;
    }
    // S3 cannot complete an upload without parts: the file is empty.
    client_->abortMultipartUpload(key_, uploadId_);
    auto reply = client_->send("PUT", key_);
    Client::check(reply, "PUT " + key_);
    return;
  }
  client_->completeMultipartUpload(key_, uploadId_, parts_);
}

void Writer::restartFromObject(uint64_t size) {
  parts_.clear();
  buffer_.clear();
  size_ = size;
  uploadId_ = client_->createMultipartUpload(key_);
  baseObject_ = true;
  renumber();
  if (size >= kMinPart) {
    Part part = client_->copyPart(key_, key_, uploadId_, 1);
    part.size = size;
    parts_.push_back(part);
    renumber();
    dropBaseObject();
  } else if (size > 0) {
    buffer_ = client_->get(key_);
  }
}

// A part before another must be at least 5 MiB. When the upload ends in a smaller part
// (a chunk that was flushed), complete it into the object and start over from that.
void Writer::mergeSmallTail() {
  client_->completeMultipartUpload(key_, uploadId_, parts_);
  restartFromObject(size_);
}

void Writer::dropBaseObject() {
  client_->deleteObject(key_);
  baseObject_ = false;
}

// Sends the buffer as the next part in the background while the caller goes on filling
// a new one: at most kPartsInFlight parts being sent and one filling. A new part starts
// as soon as any one is stored, not only the oldest: part times vary by a factor of
// three, and waiting for the oldest would leave the gateway with fewer parts to work on.
void Writer::uploadBuffer() {
  settleUntil(kPartsInFlight - 1);
  int number = nextNumber_++;
  {
    std::lock_guard lock(sent_->mutex);
    sent_->sending++;
  }
  // Counted before it starts, so that it cannot report before it is counted. A thread
  // that cannot be started is counted out again, and its bytes are lost: the writer is
  // broken, as when a part fails.
  std::future<void> sender;
  try {
    sender = std::async(std::launch::async, &Writer::sendPart, client_, key_, uploadId_, sent_,
                        number, std::move(buffer_));
  } catch (...) {
    std::lock_guard lock(sent_->mutex);
    sent_->sending--;
    broken_ = true;
    throw;
  }
  senders_.emplace(number, std::move(sender));
  buffer_ = std::string();
}

// Waits until at most `sending` parts are still being sent, and records those stored.
// Parts are recorded in order: one that finished before an earlier one waits for it.
// When one fails, every other is waited for, those after it are dropped, and the writer
// refuses any more work (its size counts the lost bytes): the upload stays a prefix of
// what was written.
void Writer::settleUntil(size_t sending) {
  std::map<int, std::variant<Part, std::exception_ptr>> results;
  bool failed = false;
  {
    std::unique_lock lock(sent_->mutex);
    sent_->changed.wait(lock, [&] { return sent_->sending <= sending; });
    failed = std::any_of(sent_->results.begin(), sent_->results.end(), [](const auto& r) {
      return std::holds_alternative<std::exception_ptr>(r.second);
    });
    if (failed) sent_->changed.wait(lock, [&] { return sent_->sending == 0; });
    results.swap(sent_->results);
  }
  size_t before = parts_.size();
  std::exception_ptr error;
  for (auto& [number, result] : results) {
    if (auto sender = senders_.find(number); sender != senders_.end()) {
      sender->second.wait();  // its thread ends as it reports
      senders_.erase(sender);
    }
    if (error) continue;
    if (auto* e = std::get_if<std::exception_ptr>(&result)) {
      error = *e;
    } else if (number == recordedUpTo_ + 1) {
      parts_.push_back(std::get<Part>(result));
      recordedUpTo_ = number;
      while (!early_.empty() && early_.begin()->first == recordedUpTo_ + 1) {
        parts_.push_back(early_.begin()->second);
        recordedUpTo_++;
        early_.erase(early_.begin());
      }
    } else {
      early_.emplace(number, std::get<Part>(result));
    }
  }
  if (error) {
    broken_ = true;
    early_.clear();
    std::rethrow_exception(error);
  }
  if (baseObject_ && parts_.size() > before) dropBaseObject();
}

// The next part follows the last one recorded.
void Writer::renumber() {
  recordedUpTo_ = parts_.empty() ? 0 : parts_.back().number;
  nextNumber_ = recordedUpTo_ + 1;
}

void Writer::checkUsable() const {
  if (broken_) throw Error(ErrorKind::kIo, "S3 upload " + key_ + ": a part was not stored");
}

// Stores `body` as part `number` and reports to `sent` how that went.
void Writer::sendPart(std::shared_ptr<const Client> client, std::string key, std::string uploadId,
                      std::shared_ptr<Sent> sent, int number, std::string body) {
  std::variant<Part, std::exception_ptr> result;
  try {
    result = client->uploadPart(key, uploadId, number, body);
  } catch (...) {
    result = std::current_exception();
  }
  std::lock_guard lock(sent->mutex);
  sent->results.emplace(number, std::move(result));
  sent->sending--;
  sent->changed.notify_all();
}

}  // namespace regfs::s3
