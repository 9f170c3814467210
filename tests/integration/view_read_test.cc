// Reads through the mounted view equal the blob's bytes however they are made: at odd
// offsets and sizes, past the end, through mmap, with several opens of one file at once
// and after many opens and closes. Both ways the view serves a local blob: the kernel
// reading the blob itself (-o opens=daemon, passthrough where the kernel and privileges
// allow), and the daemon answering each read of a file the kernel opened alone (-o
// opens=kernel). Reads the daemon answers come in large requests, each spliced from the blob.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <random>
#include <regex>
#include <set>

#include "fs/fuse_ops.h"
#include "support/http_client.h"
#include "support/poll.h"
#include "support/view_fixture.h"

namespace regfs {
namespace {

using namespace regfs::testing;

class ViewReadTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists("/dev/fuse")) << "/dev/fuse is required";
    ASSERT_TRUE(haveProgram("fusermount3")) << "fusermount3 is required (fuse3)";
  }
  std::vector<std::string> mountOptions() const {
    return {"-o", GetParam() ? "opens=daemon" : "opens=kernel"};
  }
  TempDir work;
};

// What pread returns: the bytes at `offset`, fewer at the end of the file.
std::string preadAll(int fd, uint64_t offset, size_t size) {
  std::string out(size, '\0');
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::pread(fd, out.data() + got, size - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

std::string expectedAt(const std::string& bytes, uint64_t offset, size_t size) {
  if (offset >= bytes.size()) return {};
  return bytes.substr(offset, size);
}

TEST_P(ViewReadTest, ReadsAtOddOffsetsAndSizesEqualTheBlob) {
  OciLayout oci(work / "oci");
  // Random bytes do not compress: the layer is about as large as its one file.
  Blob layer = oci.addLayer({{"payload", randomBytes((9 << 20) + 12345, 11)}});
  Blob image = oci.addImage({layer});
  Store store = Store::openLocal(work / "store");
  pushLayout(store, oci, "big/image", {image}, "latest");
  MountedView view(work / "store", work / "mnt", mountOptions());
  auto path = view.path() / "big/image" / ("@" + image.digest) / "layers" /
              ("00-" + layer.digest.substr(7) + ".tar.gz");
  const std::string& bytes = layer.bytes;
  ASSERT_GT(bytes.size(), 9u << 20);

  int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  // Sequential reads of sizes that fit no page or request boundary.
  std::string whole;
  std::vector<size_t> sizes = {1, 4093, 4096, 65537, (1 << 20) + 7, 131071};
  for (size_t i = 0;; ++i) {
    std::string buf(sizes[i % sizes.size()], '\0');
    ssize_t n = ::read(fd, buf.data(), buf.size());
    ASSERT_GE(n, 0) << std::strerror(errno);
    if (n == 0) break;
    whole.append(buf.data(), static_cast<size_t>(n));
  }
  EXPECT_EQ(whole.size(), bytes.size());
  EXPECT_TRUE(whole == bytes) << "sequential reads differ from the blob";

  // Positioned reads at odd offsets, across page and request boundaries, up to and past
  // the end of the file.
  uint64_t size = bytes.size();
  std::vector<uint64_t> offsets = {0,           1,        4095,          4096,
                                   65537,       131071,   (1 << 20) - 3, (4 << 20) + 1,
                                   size - 5000, size - 1, size,          size + 100};
  for (uint64_t offset : offsets) {
    for (size_t n : {size_t{1}, size_t{7}, size_t{4097}, size_t{200001}}) {
      EXPECT_TRUE(preadAll(fd, offset, n) == expectedAt(bytes, offset, n))
          << "pread at " << offset << " of " << n;
    }
  }
  std::mt19937_64 rng(5);
  for (int i = 0; i < 200; ++i) {
    uint64_t offset = rng() % size;
    size_t n = 1 + rng() % (300 << 10);
    ASSERT_TRUE(preadAll(fd, offset, n) == expectedAt(bytes, offset, n))
        << "pread at " << offset << " of " << n;
  }

  // A mapping of the file sees the same bytes.
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(map, MAP_FAILED) << std::strerror(errno);
  EXPECT_EQ(std::memcmp(map, bytes.data(), size), 0) << "mmap differs from the blob";
  ::munmap(map, size);

  // A second open while the first is open; then the first closes and the second reads on.
  int second = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(second, 0) << std::strerror(errno);
  EXPECT_TRUE(preadAll(second, 777777, 4321) == expectedAt(bytes, 777777, 4321));
  ::close(fd);
  EXPECT_TRUE(preadAll(second, size - 4321, 9999) == expectedAt(bytes, size - 4321, 9999));
  ::close(second);

  // Many opens and closes, one after the other and overlapping.
  int held = -1;
  for (int i = 0; i < 60; ++i) {
    int f = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(f, 0) << "open " << i << ": " << std::strerror(errno);
    uint64_t offset = rng() % size;
    ASSERT_TRUE(preadAll(f, offset, 1000) == expectedAt(bytes, offset, 1000)) << "open " << i;
    if (i % 3 == 0) {
      if (held >= 0) ::close(held);
      held = f;
    } else {
      ::close(f);
    }
  }
  if (held >= 0) ::close(held);
  EXPECT_EQ(sha256Hex(readFile(path)), layer.digest.substr(7));
}

// What libfuse's debug log (-o debug) says of the READ replies: how many there were, the
// largest one's data, and how many of those worth splicing (two pages or more) were copied
// through a buffer instead.
struct ReadReplies {
  size_t count = 0;
  size_t largest = 0;
  size_t copied = 0;
};

ReadReplies readReplies(const std::string& log) {
  static const std::regex request(R"(unique: (\d+), opcode: READ \(15\))");
  static const std::regex reply(R"(unique: (\d+), success, outsize: (\d+)( \(splice\))?)");
  constexpr size_t kHeader = 16;  // fuse_out_header
  std::set<std::string> reads;
  ReadReplies out;
  std::istringstream in(log);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, request)) {
      reads.insert(m[1]);
    } else if (std::regex_search(line, m, reply) && reads.erase(m[1])) {
      size_t data = std::stoul(m[2]) - kHeader;
      ++out.count;
      out.largest = std::max(out.largest, data);
      if (data >= 2 * 4096 && !m[3].matched) ++out.copied;
    }
  }
  return out;
}

// A cold sequential read through the daemon: the kernel reads ahead far more than its
// default 128 KiB (regfs-mount raises the mount's read-ahead, as root), in requests libfuse
// can splice (a 1 MiB one needs a larger pipe than pipe-max-size allows).
TEST(ViewColdReadTest, TheDaemonAnswersLargeReadsBySplicing) {
  ASSERT_TRUE(std::filesystem::exists("/dev/fuse")) << "/dev/fuse is required";
  TempDir work;
  OciLayout oci(work / "oci");
  Blob layer = oci.addLayer({{"payload", randomBytes(9 << 20, 17)}});
  Blob image = oci.addImage({layer});
  Store store = Store::openLocal(work / "store");
  pushLayout(store, oci, "big/image", {image}, "latest");
  MountedView view(work / "store", work / "mnt", {"-o", "opens=kernel,debug"});
  bool root = ::geteuid() == 0;
  if (root) {
    struct stat st;
    ASSERT_EQ(::stat(view.path().c_str(), &st), 0) << std::strerror(errno);
    auto setting = "/sys/class/bdi/" + std::to_string(major(st.st_dev)) + ":" +
                   std::to_string(minor(st.st_dev)) + "/read_ahead_kb";
    EXPECT_EQ(std::stoul(readFile(setting)), view::MountOptions{}.readAheadKib) << setting;
  }

  auto path = view.path() / "big/image" / ("@" + image.digest) / "layers" /
              ("00-" + layer.digest.substr(7) + ".tar.gz");
  int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  std::string whole, buf(1 << 20, '\0');
  for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;)
    whole.append(buf.data(), static_cast<size_t>(n));
  ::close(fd);
  EXPECT_TRUE(whole == layer.bytes) << "the read differs from the blob";

  ReadReplies replies = readReplies(view.log());
  ASSERT_GT(replies.count, 0u) << "no READ in the daemon's debug log:\n" << view.log();
  EXPECT_EQ(replies.copied, 0u) << "of " << replies.count << " READ replies, the largest "
                                << replies.largest << " bytes";
  if (root) {
    EXPECT_GT(replies.largest, 128u << 10) << "the kernel's default read-ahead is in force";
  } else {
    std::printf("not root: the mount's read-ahead stays the kernel's; not checked\n");
  }
}

// Who opens files (-o opens=…). kernel: after the first OPEN, which answers ENOSYS, opening
// and closing a file sends the daemon nothing, inside images and for blobs alike, and reads
// are answered by inode. daemon: every open is an OPEN and every close a RELEASE (the kernel
// gets the blob's file at each, for passthrough). auto, the default: as daemon until a program
// opens files inside images at a tree reader's pace, then as kernel.
TEST(ViewOpenTest, FilesOpenInTheDaemonOrTheKernelAsAsked) {
  ASSERT_TRUE(std::filesystem::exists("/dev/fuse")) << "/dev/fuse is required";
  TempDir work;
  OciLayout oci(work / "oci");
  std::map<std::string, std::string> files;
  for (int i = 0; i < 100; ++i)
    files["etc/f" + std::to_string(i)] = randomBytes(1000 + 10 * static_cast<size_t>(i), 40 + i);
  Blob layer = oci.addLayer(files);
  Blob image = oci.addImage({layer});
  Store store = Store::openLocal(work / "store");
  pushLayout(store, oci, "app", {image}, "latest");
  static const std::regex open(R"(opcode: OPEN \(14\))");
  static const std::regex release(R"(opcode: RELEASE \(18\))");
  for (std::string opens : {"kernel", "daemon", "auto"}) {
    SCOPED_TRACE("opens=" + opens);
    MountedView view(work / "store", work / ("mnt-" + opens), {"-o", "opens=" + opens + ",debug"});
    auto manifestDir = view.path() / "app" / ("@" + image.digest);
    auto blob = manifestDir / "layers" / ("00-" + layer.digest.substr(7) + ".tar.gz");
    auto readAll = [&] {
      EXPECT_TRUE(readFile(blob) == layer.bytes) << "the layer read differs from the blob";
      for (const auto& [name, bytes] : files)
        EXPECT_EQ(readFile(manifestDir / "rootfs" / name), bytes) << name;
    };
    readAll();
    size_t opens1 = countInLog(view.log(), open);
    readAll();
    size_t opens2 = countInLog(view.log(), open);
    if (opens == "kernel") {
      EXPECT_EQ(opens2, 1u) << "the first open only";
      EXPECT_LE(countInLog(view.log(), release), 1u);
    } else if (opens == "daemon") {
      EXPECT_EQ(opens2, 2 * (files.size() + 1));
      EXPECT_TRUE(waitUntil([&] { return countInLog(view.log(), release) == opens2; }))
          << countInLog(view.log(), release) << " RELEASE requests of " << opens2;
    } else {
      // The blob, then the files inside the image up to the pace that switches (32 a second):
      // the tree reader, and everything after it, opens in the kernel.
      EXPECT_GE(opens1, 2u);
      EXPECT_LE(opens1, 1u + 32u);
      EXPECT_EQ(opens2, opens1) << "OPEN requests after the switch";
      EXPECT_NE(view.log().find("files open in the kernel alone from now on"), std::string::npos)
          << view.log().substr(0, 2000);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, ViewReadTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("Passthrough")
                                             : std::string("ThroughTheDaemon");
                         });

}  // namespace
}  // namespace regfs
