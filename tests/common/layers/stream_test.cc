// The compressed stream: scanStream hands on exactly the bytes the compressor took and
// StreamReader reads any slice of them from the seek points, for gzip (zlib at every level,
// the gzip CLI, every header flag, concatenated members), zstd (one frame, many frames,
// skippable frames, --long) and plain tars; hostile streams are refused with the right kind.
#include "common/layers/stream.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include "common/error.h"
#include "common/store/store.h"
#include "support/compress.h"
#include "support/error_kind.h"
#include "support/process.h"
#include "support/redirecting_driver.h"

namespace regfs::layers {
namespace {

using testing::gzipBytes;
using testing::kindOf;
using testing::TempDir;
using testing::zstdBytes;

// Text that compresses (lines with counters) mixed with runs of random bytes that do not.
std::string makeData(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string data;
  data.reserve(size + 128);
  while (data.size() < size) {
    if (rng() % 4 == 0) {
      size_t run = rng() % 2048;
      for (size_t i = 0; i < run; ++i) data.push_back(static_cast<char>(rng()));
    } else {
      data += "usr/lib/x86_64-linux-gnu/libexample.so." + std::to_string(rng() % 1000) +
              " mode 0644 owner root\n";
    }
  }
  data.resize(size);
  return data;
}

// A zstd skippable frame (zstd:chunked puts its manifest in one).
std::string skippableFrame(std::string_view payload) {
  std::string frame("\x50\x2a\x4d\x18", 4);
  uint32_t size = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) frame.push_back(static_cast<char>(size >> (8 * i)));
  return frame + std::string(payload);
}

// `data` through a command line tool reading stdin ("gzip -6 -c").
std::string throughCommand(const std::string& command, const std::string& data) {
  TempDir dir;
  testing::writeFile(dir / "in", data);
  testing::CommandResult result =
      testing::sh(command + " < " + (dir / "in").string() + " > " + (dir / "out").string());
  EXPECT_EQ(result.status, 0) << command << ": " << result.out;
  return testing::readFile(dir / "out");
}

struct Scanned {
  SeekPoints points;
  std::string output;
};

Scanned scan(const BlobSource& blob, const ScanOptions& options = {}) {
  Scanned scanned;
  scanned.points = scanStream(
      blob, [&](std::string_view piece) { scanned.output.append(piece); }, options);
  return scanned;
}

Scanned scan(std::string_view bytes, const ScanOptions& options = {}) {
  return scan(*memorySource(bytes), options);
}

// Checkpoints every `span`, however large the windows.
ScanOptions spanOf(uint64_t span) {
  ScanOptions options;
  options.span = span;
  options.windowShare = 1;
  return options;
}

// `count` reads at seeded random offsets and lengths (some past the end) equal the slices.
void expectRandomReads(const BlobSource& blob, const SeekPoints& points,
                       const std::string& original, int count, uint32_t seed) {
  StreamReader reader(blob, points);
  std::mt19937_64 rng(seed);
  std::string buffer;
  for (int i = 0; i < count; ++i) {
    uint64_t offset = original.empty() ? 0 : rng() % (original.size() + 16);
    size_t length = rng() % 3 == 0 ? rng() % 300'000 : rng() % 5000;
    buffer.assign(length, '\0');
    size_t got = reader.read(offset, buffer.data(), length);
    std::string_view want;
    if (offset < original.size()) want = std::string_view(original).substr(offset, length);
    ASSERT_EQ(std::string_view(buffer.data(), got), want) << "read " << i << " at " << offset;
  }
}

// Reads everything front to back in pieces of `piece` bytes.
std::string readSequentially(const BlobSource& blob, const SeekPoints& points, size_t piece) {
  StreamReader reader(blob, points);
  std::string all;
  std::string buffer(piece, '\0');
  for (;;) {
    size_t got = reader.read(all.size(), buffer.data(), piece);
    if (got == 0) return all;
    all.append(buffer.data(), got);
  }
}

// Counts the bytes read from another source.
class CountingSource : public BlobSource {
 public:
  explicit CountingSource(const BlobSource& inner) : inner_(inner) {}
  uint64_t size() const override { return inner_.size(); }
  size_t readAt(uint64_t offset, void* buffer, size_t length) const override {
    size_t got = inner_.readAt(offset, buffer, length);
    read_ += got;
    return got;
  }
  uint64_t bytesRead() const { return read_; }

 private:
  const BlobSource& inner_;
  mutable std::atomic<uint64_t> read_{0};
};

// The whole contract for one compressed blob of `original`.
void expectRoundTrip(const std::string& blob, const std::string& original, Compression kind,
                     uint64_t span = 64 * 1024, int reads = 1000) {
  SCOPED_TRACE(std::string(compressionName(kind)) + " of " + std::to_string(original.size()));
  Scanned scanned = scan(blob, spanOf(span));
  ASSERT_EQ(scanned.output.size(), original.size());
  ASSERT_TRUE(scanned.output == original);
  EXPECT_EQ(scanned.points.compression, kind);
  EXPECT_EQ(scanned.points.compressedSize, blob.size());
  EXPECT_EQ(scanned.points.uncompressedSize, original.size());
  if (kind == Compression::kNone) {
    EXPECT_TRUE(scanned.points.checkpoints.empty());
  } else {
    ASSERT_FALSE(scanned.points.checkpoints.empty());
    EXPECT_EQ(scanned.points.checkpoints.front().out, 0u);
  }
  for (size_t i = 1; i < scanned.points.checkpoints.size(); ++i) {
    EXPECT_GT(scanned.points.checkpoints[i].out, scanned.points.checkpoints[i - 1].out);
  }
  auto source = memorySource(blob);
  expectRandomReads(*source, scanned.points, original, reads, 7);
  EXPECT_TRUE(readSequentially(*source, scanned.points, 128 * 1024) == original);
}

TEST(StreamScan, GzipAtEveryLevelAndSize) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{100}, size_t{70'000}, size_t{3} << 20}) {
    std::string data = makeData(size, static_cast<uint32_t>(size));
    for (int level : {0, 1, 6, 9}) {
      SCOPED_TRACE("level " + std::to_string(level));
      expectRoundTrip(gzipBytes(data, level), data, Compression::kGzip);
    }
  }
}

TEST(StreamScan, GzipCheckpointsEverySpan) {
  std::string data = makeData(8 << 20, 1);
  Scanned scanned = scan(gzipBytes(data, 6), spanOf(1 << 20));
  const auto& points = scanned.points.checkpoints;
  ASSERT_GE(points.size(), 7u);
  ASSERT_LE(points.size(), 9u);
  for (size_t i = 1; i < points.size(); ++i) {
    EXPECT_GE(points[i].out - points[i - 1].out, 1u << 20);
    EXPECT_FALSE(points[i].window.empty());
    EXPECT_LT(points[i].window.size(), 32u * 1024) << "windows are stored compressed";
  }
  EXPECT_TRUE(points[0].window.empty()) << "nothing comes before the first byte";
}

// Windows of data that does not compress stay within their share: checkpoints spread out.
TEST(StreamScan, GzipWindowsKeepToTheirShare) {
  std::mt19937 rng(21);
  std::string data(8 << 20, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  std::string blob = gzipBytes(data, 6);
  ScanOptions options;
  options.span = 256 * 1024;
  Scanned scanned = scan(blob, options);
  uint64_t windows = 0;
  for (const Checkpoint& point : scanned.points.checkpoints) windows += point.window.size();
  EXPECT_LE(windows, data.size() / 100 + 33 * 1024);
  EXPECT_GE(scanned.points.checkpoints.size(), 3u);
  EXPECT_LT(scanned.points.checkpoints.size(), 10u) << "not one every span";
  expectRandomReads(*memorySource(blob), scanned.points, data, 100, 22);
}

TEST(StreamScan, GzipCommandLine) {
  std::string data = makeData(2 << 20, 2);
  TempDir dir;
  testing::writeFile(dir / "layer.tar", data);
  // From a file, gzip writes its name in the header (FNAME).
  ASSERT_EQ(testing::sh("gzip -k -9 " + (dir / "layer.tar").string()).status, 0);
  std::string named = testing::readFile(dir / "layer.tar.gz");
  ASSERT_TRUE(named[3] & 0x08) << "FNAME";
  expectRoundTrip(named, data, Compression::kGzip);
  expectRoundTrip(throughCommand("gzip -1 -c", data), data, Compression::kGzip);
  if (testing::haveProgram("pigz")) {
    expectRoundTrip(throughCommand("pigz -c", data), data, Compression::kGzip);
  }
}

TEST(StreamScan, GzipHeaderFields) {
  std::string data = makeData(300'000, 3);
  std::string extra(
      "\x52\x46\x04\x00"
      "abcd",
      8);
  std::string name = "rootfs.diff.tar";
  std::string comment = "a layer";
  gz_header header{};
  header.extra = reinterpret_cast<Bytef*>(extra.data());
  header.extra_len = static_cast<uInt>(extra.size());
  header.name = reinterpret_cast<Bytef*>(name.data());
  header.comment = reinterpret_cast<Bytef*>(comment.data());
  header.hcrc = 1;
  std::string blob = gzipBytes(data, 6, &header);
  ASSERT_EQ(blob[3], 0x02 | 0x04 | 0x08 | 0x10) << "FHCRC FEXTRA FNAME FCOMMENT";
  expectRoundTrip(blob, data, Compression::kGzip);

  std::string badHeaderCrc = blob;
  badHeaderCrc[10 + extra.size() + 2 + name.size() + 1 + comment.size() + 1] ^= 1;
  EXPECT_EQ(kindOf([&] { scan(badHeaderCrc); }), ErrorKind::kInvalidArgument);
}

TEST(StreamScan, GzipMembersAreOneStream) {
  std::string a = makeData(500'000, 4);
  std::string b = makeData(20'000, 5);
  std::string c = makeData(700'000, 6);
  std::string blob = gzipBytes(a, 6) + gzipBytes("", 6) + gzipBytes(b, 1) + gzipBytes(c, 9);
  std::string data = a + b + c;
  // Small spans put checkpoints inside members; a span larger than the stream leaves only
  // the first, so reads run from member to member.
  expectRoundTrip(blob, data, Compression::kGzip, 16 * 1024);
  expectRoundTrip(blob, data, Compression::kGzip, 64 << 20, 200);
  // gzip accepts zeros after the last member.
  expectRoundTrip(blob + std::string(5000, '\0'), data, Compression::kGzip);
}

TEST(StreamScan, ZstdFrames) {
  std::string a = makeData(3 << 20, 7);
  std::string b = makeData(100'000, 8);
  std::string c = makeData(1 << 20, 9);
  expectRoundTrip(zstdBytes(a), a, Compression::kZstd);
  expectRoundTrip(zstdBytes(""), "", Compression::kZstd);

  std::string frames =
      zstdBytes(a, 1) + zstdBytes(b, 19) + skippableFrame("toc") + zstdBytes("") + zstdBytes(c);
  expectRoundTrip(frames, a + b + c, Compression::kZstd);
  expectRoundTrip(skippableFrame("first") + zstdBytes(b), b, Compression::kZstd);

  // One frame, one checkpoint; with a span of a byte, one at each frame with data.
  EXPECT_EQ(scan(zstdBytes(a)).points.checkpoints.size(), 1u);
  const auto& points = scan(frames, spanOf(1)).points.checkpoints;
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[1].out, a.size());
  EXPECT_EQ(points[2].out, a.size() + b.size());
  EXPECT_EQ(points[1].in, zstdBytes(a, 1).size());
}

TEST(StreamScan, ZstdCommandLine) {
  std::string a = makeData(2 << 20, 10);
  std::string b = makeData(300'000, 11);
  std::string one = throughCommand("zstd -q -c", a);
  expectRoundTrip(one, a, Compression::kZstd);
  expectRoundTrip(one + throughCommand("zstd -q -19 -c", b), a + b, Compression::kZstd);
  expectRoundTrip(throughCommand("zstd -q --long=27 -c", a + a), a + a, Compression::kZstd);
}

TEST(StreamScan, Plain) {
  std::string data = makeData(1 << 20, 12);
  expectRoundTrip(data, data, Compression::kNone);
  expectRoundTrip("", "", Compression::kNone);
}

TEST(StreamReader, ReadsAtAndPastTheEnd) {
  std::string data = makeData(200'000, 13);
  for (const std::string& blob : {gzipBytes(data, 6), zstdBytes(data), data}) {
    Scanned scanned = scan(blob);
    auto source = memorySource(blob);
    StreamReader reader(*source, scanned.points);
    char buffer[100];
    EXPECT_EQ(reader.read(data.size(), buffer, sizeof buffer), 0u);
    EXPECT_EQ(reader.read(data.size() + 5, buffer, sizeof buffer), 0u);
    ASSERT_EQ(reader.read(data.size() - 10, buffer, sizeof buffer), 10u);
    EXPECT_EQ(std::string_view(buffer, 10), std::string_view(data).substr(data.size() - 10));
    EXPECT_EQ(reader.read(0, buffer, 0), 0u);
    ASSERT_EQ(reader.read(0, buffer, 5), 5u) << "backwards, after the end";
    EXPECT_EQ(std::string_view(buffer, 5), std::string_view(data).substr(0, 5));
  }
}

// Front to back in 128 KiB reads costs one pass over the blob, not a seek per read.
TEST(StreamReader, SequentialReadsContinue) {
  std::string data = makeData(16 << 20, 14);
  for (const std::string& blob : {gzipBytes(data, 6), zstdBytes(data)}) {
    Scanned scanned = scan(blob, spanOf(1 << 20));
    auto inner = memorySource(blob);
    CountingSource counting(*inner);
    EXPECT_TRUE(readSequentially(counting, scanned.points, 128 * 1024) == data);
    EXPECT_LE(counting.bytesRead(), blob.size() + 1024)
        << compressionName(scanned.points.compression);
  }
}

// Files read one after another in stream order (what `tar -c` of a tree does), each by a reader
// of its own from the pool, cost one pass over the blob; two such sequences interleaved (two
// programs reading) each keep a reader of their own.
TEST(StreamReaderPool, FilesInStreamOrderCostOnePass) {
  std::string data = makeData(16 << 20, 17);
  std::string blob = gzipBytes(data, 6);
  Scanned scanned = scan(blob, spanOf(1 << 20));
  auto inner = memorySource(blob);
  CountingSource counting(*inner);
  StreamReaderPool pool(counting, scanned.points);
  char buffer[5000];
  auto readAt = [&](uint64_t offset) {
    size_t n = pool.read(offset, buffer, sizeof buffer);
    EXPECT_EQ(std::string_view(buffer, n), std::string_view(data).substr(offset, sizeof buffer));
  };
  for (uint64_t a = 0, b = 8 << 20; b + sizeof buffer < data.size(); a += 7000, b += 7000) {
    readAt(a);  // the first sequence, in the first half
    readAt(b);  // the second, in the second half
  }
  // Once through, and the span before the second sequence's start once more.
  EXPECT_LE(counting.bytesRead(), blob.size() + (2 << 20));
  // A pool of one reader alternates between the two places: it seeks every time.
  CountingSource single(*inner);
  StreamReaderPool one(single, scanned.points, 1);
  for (uint64_t a = 0, b = 8 << 20; a < (1 << 20); a += 70000, b += 70000) {
    one.read(a, buffer, sizeof buffer);
    one.read(b, buffer, sizeof buffer);
  }
  EXPECT_GT(single.bytesRead(), blob.size());
}

// A reader seeks only as far back as the checkpoint before the read.
TEST(StreamReader, RandomReadInflatesAtMostASpan) {
  std::string data = makeData(16 << 20, 15);
  std::string blob = gzipBytes(data, 6);
  Scanned scanned = scan(blob, spanOf(1 << 20));
  auto inner = memorySource(blob);
  CountingSource counting(*inner);
  StreamReader reader(counting, scanned.points);
  char buffer[4096];
  ASSERT_EQ(reader.read(15 << 20, buffer, sizeof buffer), sizeof buffer);
  EXPECT_EQ(std::string_view(buffer, sizeof buffer), std::string_view(data).substr(15 << 20, 4096));
  EXPECT_LT(counting.bytesRead(), blob.size() / 4);
}

// What a reader just passed it still has: a read a little behind where it stands (a file two
// threads asked for at once) is a copy, and one that starts behind and ends ahead goes on.
TEST(StreamReader, ReadsJustBehindAreCopies) {
  std::string data = makeData(4 << 20, 18);
  for (const std::string& blob : {gzipBytes(data, 6), zstdBytes(data)}) {
    Scanned scanned = scan(blob, spanOf(1 << 20));
    auto inner = memorySource(blob);
    CountingSource counting(*inner);
    StreamReader reader(counting, scanned.points);
    std::string buffer(300 << 10, '\0');
    for (uint64_t at = 0; at < (900 << 10); at += 100 << 10)
      ASSERT_EQ(reader.read(at, buffer.data(), 100 << 10), size_t{100} << 10);
    uint64_t before = counting.bytesRead();
    uint64_t at = reader.position();
    ASSERT_EQ(at, uint64_t{900} << 10);
    ASSERT_EQ(reader.read(at - (200 << 10), buffer.data(), 150 << 10), size_t{150} << 10);
    EXPECT_EQ(buffer.substr(0, 150 << 10), data.substr(at - (200 << 10), 150 << 10));
    EXPECT_EQ(counting.bytesRead(), before) << "a read behind the reader decompressed again";
    ASSERT_EQ(reader.read(at - (100 << 10), buffer.data(), 300 << 10), size_t{300} << 10);
    EXPECT_EQ(buffer, data.substr(at - (100 << 10), 300 << 10));
    // One more input buffer (256 KiB), not the megabyte from the checkpoint again.
    EXPECT_LT(counting.bytesRead(), before + (300 << 10)) << "it went on, not back";
  }
}

// Two threads reading the files of one stream in turns (a program and a read-ahead): every
// byte is the stream's.
TEST(StreamReaderPool, NeighbouringReadsFromTwoThreads) {
  std::string data = makeData(8 << 20, 19);
  std::string blob = gzipBytes(data, 6);
  Scanned scanned = scan(blob, spanOf(1 << 20));
  auto source = memorySource(blob);
  StreamReaderPool pool(*source, scanned.points);
  constexpr uint64_t kFile = 9000;
  std::atomic<int> wrong{0};
  auto readEvery = [&](uint64_t first) {
    std::string buffer(kFile, '\0');
    for (uint64_t at = first * kFile; at + kFile <= data.size(); at += 2 * kFile) {
      size_t n = pool.read(at, buffer.data(), kFile);
      if (n != kFile || buffer != data.substr(at, kFile)) ++wrong;
    }
  };
  std::thread a(readEvery, 0), b(readEvery, 1);
  a.join();
  b.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(StreamScan, RefusesCorruptGzip) {
  std::string data = makeData(400'000, 16);
  std::string blob = gzipBytes(data, 6);
  for (size_t cut : {size_t{3}, size_t{10}, blob.size() / 2, blob.size() - 8, blob.size() - 1}) {
    EXPECT_EQ(kindOf([&] { scan(blob.substr(0, cut)); }), ErrorKind::kInvalidArgument) << cut;
  }
  std::string badCrc = blob;
  badCrc[blob.size() - 8] ^= 1;
  EXPECT_EQ(kindOf([&] { scan(badCrc); }), ErrorKind::kInvalidArgument);
  std::string badLength = blob;
  badLength[blob.size() - 4] ^= 1;
  EXPECT_EQ(kindOf([&] { scan(badLength); }), ErrorKind::kInvalidArgument);
  std::string badData = blob;
  badData[blob.size() / 2] ^= 0x55;
  EXPECT_EQ(kindOf([&] { scan(badData); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(kindOf([&] { scan(blob + "garbage"); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(kindOf([&] { scan(blob + std::string(100, '\0') + "x"); }),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(kindOf([&] { scan(blob + "\x1f"); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(kindOf([&] { scan(blob + "\x1f\x8b"); }), ErrorKind::kInvalidArgument);
}

TEST(StreamScan, RefusesABombAfterTheLimit) {
  std::string zeros(64 << 20, '\0');
  for (const std::string& blob : {gzipBytes(zeros, 9), zstdBytes(zeros), zeros}) {
    ScanOptions options;
    options.maxUncompressed = 1 << 20;
    uint64_t seen = 0;
    auto count = [&](std::string_view piece) { seen += piece.size(); };
    EXPECT_EQ(kindOf([&] { scanStream(*memorySource(blob), count, options); }),
              ErrorKind::kSizeInvalid);
    EXPECT_LE(seen, options.maxUncompressed);
  }
}

TEST(StreamScan, RefusesCorruptZstd) {
  std::string data = makeData(400'000, 17);
  std::string blob = zstdBytes(data);
  for (size_t cut : {size_t{4}, size_t{6}, blob.size() / 2, blob.size() - 1}) {
    EXPECT_EQ(kindOf([&] { scan(blob.substr(0, cut)); }), ErrorKind::kInvalidArgument) << cut;
  }
  EXPECT_EQ(kindOf([&] { scan(blob + "garbage!"); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(kindOf([&] { scan(blob + std::string(10, '\0')); }), ErrorKind::kInvalidArgument);
  // A frame that asks for a 2 GiB window: magic, no flags, window descriptor 2^31, one raw
  // last block of one byte.
  std::string huge("\x28\xb5\x2f\xfd\x00\xa8\x09\x00\x00x", 10);
  EXPECT_EQ(kindOf([&] { scan(huge); }), ErrorKind::kInvalidArgument);
  std::string small("\x28\xb5\x2f\xfd\x00\x00\x09\x00\x00x", 10);
  EXPECT_EQ(scan(small).output, "x") << "the same frame with a 1 KiB window";
}

TEST(StreamReader, ABlobThatChangedIsAnIoError) {
  std::string data = makeData(2 << 20, 18);
  std::string buffer(data.size(), '\0');
  for (const std::string& blob : {gzipBytes(data, 6), zstdBytes(data)}) {
    Scanned scanned = scan(blob);
    std::string shorter = blob.substr(0, blob.size() / 2);
    auto cut = memorySource(shorter);
    StreamReader cutReader(*cut, scanned.points);
    EXPECT_EQ(kindOf([&] { cutReader.read(data.size() - 10, buffer.data(), 10); }), ErrorKind::kIo);
  }
  // Zeros where deflate blocks were: a stored block whose lengths do not match.
  std::string gzip = gzipBytes(data, 6);
  Scanned scanned = scan(gzip);
  std::fill(gzip.begin() + 20, gzip.end(), '\0');
  auto zeroed = memorySource(gzip);
  StreamReader reader(*zeroed, scanned.points);
  EXPECT_EQ(kindOf([&] { reader.read(0, buffer.data(), buffer.size()); }), ErrorKind::kIo);
  // A checkpoint inside a zstd frame is not a frame's start.
  std::string zstd = zstdBytes(data);
  SeekPoints points = scan(zstd).points;
  points.checkpoints.push_back(Checkpoint{1000, 100, 0, {}});
  auto source = memorySource(zstd);
  StreamReader zstdReader(*source, points);
  EXPECT_EQ(kindOf([&] { zstdReader.read(2000, buffer.data(), 10); }), ErrorKind::kIo);
  // A reader after an error seeks again.
  points.checkpoints.pop_back();
  ASSERT_EQ(zstdReader.read(2000, buffer.data(), 10), 10u);
  EXPECT_EQ(buffer.substr(0, 10), data.substr(2000, 10));
}

TEST(StreamScan, DetectsCompressionByMagic) {
  EXPECT_EQ(detectCompression("\x1f\x8b\x08"), Compression::kGzip);
  EXPECT_EQ(detectCompression("\x28\xb5\x2f\xfd"), Compression::kZstd);
  EXPECT_EQ(detectCompression("\x5e\x2a\x4d\x18"), Compression::kZstd);
  EXPECT_EQ(detectCompression("\x4e\x2a\x4d\x18"), Compression::kNone);
  EXPECT_EQ(detectCompression("\x28\xb5"), Compression::kNone);
  EXPECT_EQ(detectCompression("etc/passwd"), Compression::kNone);
}

// Storage without local files: every open of a blob answers "no fd", as on S3.
class NoLocalFiles : public testing::RedirectingDriver {
 public:
  using RedirectingDriver::RedirectingDriver;
  UniqueFd openLocal(const std::string&) const override { return UniqueFd(); }
};

TEST(BlobSource, LocalAndRemoteStores) {
  TempDir dir;
  std::string data = makeData(1 << 20, 19);
  std::string blob = gzipBytes(data, 6);
  Store local = Store::openLocal(dir / "store");
  Digest digest = local.putBlob(blob);
  Store remote(std::make_shared<NoLocalFiles>(makeFsDriver(dir / "store")));
  ASSERT_FALSE(remote.openLocalBlob(digest));
  for (const Store* store : {&local, &remote}) {
    auto source = openBlobSource(*store, digest);
    ASSERT_EQ(source->size(), blob.size());
    std::string head(10, '\0');
    ASSERT_EQ(source->readAt(blob.size() - 4, head.data(), head.size()), 4u);
    EXPECT_EQ(head.substr(0, 4), blob.substr(blob.size() - 4));
    EXPECT_EQ(source->readAt(blob.size(), head.data(), head.size()), 0u);
    Scanned scanned = scan(*source);
    EXPECT_TRUE(scanned.output == data);
    expectRandomReads(*source, scanned.points, data, 50, 20);
    Digest missing = Digest::of("not stored");
    EXPECT_EQ(kindOf([&] { openBlobSource(*store, missing); }), ErrorKind::kBlobUnknown);
  }
}

}  // namespace
}  // namespace regfs::layers
