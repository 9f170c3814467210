#pragma once
// Appending to an S3 object: a multipart upload (s3_client.h), one part filling in memory
// while up to three earlier ones are sent (at most four chunksize parts), which any process
// can resume: the driver finds the upload in progress by key and lists its parts, and a
// writer goes on after them. commit() completes the upload into the object.

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "common/storage/driver.h"
#include "common/storage/s3_client.h"

namespace regfs::s3 {

class Writer : public FileWriter {
 public:
  // Goes on with upload `uploadId` on `key` after `parts` (its parts up to the first gap).
  Writer(std::shared_ptr<const Client> client, std::string key, std::string uploadId,
         std::vector<Part> parts, uint64_t chunkSize);
  // Waits for the parts in flight; a part that failed is logged, its bytes are lost.
  ~Writer() override;

  void write(const void* data, size_t size) override;
  uint64_t size() const override { return size_; }
  void flush() override;
  void sync() override { flush(); }
  bool writesBehind() const override { return true; }
  void commit() override;

  // Starts a new multipart upload holding the `size` bytes of the complete object at the
  // key: a copy of it as part 1, or its bytes in the buffer when it is smaller than a part.
  // The object goes once the upload holds its bytes: a file being appended to is the
  // upload alone.
  void restartFromObject(uint64_t size);

 private:
  // What the threads sending parts report: a part stored or why it was not.
  struct Sent {
    std::mutex mutex;
    std::condition_variable changed;
    size_t sending = 0;
    std::map<int, std::variant<Part, std::exception_ptr>> results;
  };

  void mergeSmallTail();
  void dropBaseObject();
  void uploadBuffer();
  void settleUntil(size_t sending);
  void settle() { settleUntil(0); }  // waits for every part in flight
  void renumber();
  void checkUsable() const;
  static void sendPart(std::shared_ptr<const Client> client, std::string key, std::string uploadId,
                       std::shared_ptr<Sent> sent, int number, std::string body);

  std::shared_ptr<const Client> client_;
  std::string key_;
  std::string uploadId_;
  std::vector<Part> parts_;
  uint64_t chunkSize_;
  uint64_t size_ = 0;
  std::string buffer_;
  std::shared_ptr<Sent> sent_ = std::make_shared<Sent>();
  std::map<int, std::future<void>> senders_;  // by part number, until their result is taken
  std::map<int, Part> early_;                 // stored before a part with a lower number
  int nextNumber_ = 1;
  int recordedUpTo_ = 0;  // the number of the last part in parts_
  bool baseObject_ = false;
  bool broken_ = false;  // a part failed
};

}  // namespace regfs::s3
