#include "common/store/write_behind.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>

#include "common/error.h"

namespace regfs {
namespace {

// Keeps what it is given; the write numbered `failAt` (from 1) throws, and every write
// waits while the test holds it.
class RecordingWriter : public FileWriter {
 public:
  struct State {
    std::mutex mu;
    std::condition_variable released;
    bool held = false;
    int writes = 0;
    int failAt = 0;
    std::string bytes;
  };
  explicit RecordingWriter(State& state) : state_(state) {}
  void write(const void* data, size_t size) override {
    std::unique_lock lock(state_.mu);
    state_.released.wait(lock, [&] { return !state_.held; });
    if (++state_.writes == state_.failAt) throw Error(ErrorKind::kIo, "write: injected failure");
    state_.bytes.append(static_cast<const char*>(data), size);
  }
  uint64_t size() const override {
    std::lock_guard lock(state_.mu);
    return state_.bytes.size();
  }
  void sync() override {}

 private:
  State& state_;
};

StageBuffer stage(const std::string& bytes) {
  StageBuffer b(bytes.size() + 1);
  EXPECT_EQ(b.fill(bytes), bytes.size());
  return b;
}

TEST(StageBufferTest, IsAlignedForDirectIoAndFillsUpToItsCapacity) {
  StageBuffer b(10);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % FileWriter::kDirectAlign, 0u);
  EXPECT_EQ(b.fill("0123456"), 7u);
  EXPECT_EQ(b.fill("789abc"), 3u);
  EXPECT_EQ(std::string(b.data(), b.size()), "0123456789");
  b.clear();
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.capacity(), 10u);
}

TEST(WriteBehindTest, WritesEveryBufferInOrder) {
  RecordingWriter::State state;
  UploadWriter writer(std::make_unique<RecordingWriter>(state));
  WriteBehind behind(writer);
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    std::string piece = "piece " + std::to_string(i) + ";";
    expected += piece;
    StageBuffer b = behind.spare(64);
    b.fill(piece);
    behind.write(std::move(b));
  }
  behind.drain();
  EXPECT_EQ(state.bytes, expected);
  EXPECT_EQ(writer.size(), expected.size());
}

TEST(WriteBehindTest, HashesEveryBufferInOrderWhileWritingIt) {
  RecordingWriter::State state;
  UploadWriter writer(std::make_unique<RecordingWriter>(state));
  Hasher hasher;
  std::string expected;
  {
    WriteBehind behind(writer, &hasher);
    for (int i = 0; i < 300; ++i) {
      std::string piece = "piece " + std::to_string(i) + ";";
      expected += piece;
      StageBuffer b = behind.spare(64);
      b.fill(piece);
      behind.write(std::move(b));
    }
    behind.drain();
    // drain() returns once the hasher has every buffer too: its digest is final here.
    EXPECT_EQ(hasher.digest(), Digest::of(expected));
  }
  EXPECT_EQ(state.bytes, expected);
}

TEST(WriteBehindTest, TakesUpToItsDepthWhileTheWriterIsBusy) {
  RecordingWriter::State state;
  UploadWriter writer(std::make_unique<RecordingWriter>(state));
  WriteBehind behind(writer);
  {
    std::lock_guard lock(state.mu);
    state.held = true;
  }
  // All of these are accepted at once: the caller goes on receiving while the disk works.
  for (size_t i = 0; i < WriteBehind::kDepth; ++i)
    behind.write(stage(std::string(1, char('a' + i))));
  {
    std::lock_guard lock(state.mu);
    state.held = false;
  }
  state.released.notify_all();
  behind.drain();
  EXPECT_EQ(state.bytes, "abcd");
}

TEST(WriteBehindTest, AFailedWriteIsReportedAndNothingAfterItIsWritten) {
  RecordingWriter::State state;
  state.failAt = 2;
  UploadWriter writer(std::make_unique<RecordingWriter>(state));
  WriteBehind behind(writer);
  behind.write(stage("one"));
  behind.write(stage("two"));
  ErrorKind kind = ErrorKind::kInternal;
  try {
    // Sooner or later a write sees the failure; drain() does in any case.
    for (int i = 0; i < 10; ++i) behind.write(stage("more"));
    behind.drain();
  } catch (const Error& e) {
    kind = e.kind();
  }
  EXPECT_EQ(kind, ErrorKind::kIo);
  EXPECT_THROW(behind.drain(), Error) << "the failure stays reported";
  EXPECT_EQ(state.bytes, "one") << "no gap: bytes after a failed write are not written";
}

TEST(WriteBehindTest, DestroyingItWritesWhatIsQueued) {
  RecordingWriter::State state;
  UploadWriter writer(std::make_unique<RecordingWriter>(state));
  {
    WriteBehind behind(writer);
    behind.write(stage("left "));
    behind.write(stage("over"));
  }
  EXPECT_EQ(state.bytes, "left over");
}

}  // namespace
}  // namespace regfs
