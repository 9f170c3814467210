#pragma once
// The StorageDriver contract of common/storage/driver.h as one suite, run against every driver
// (as distribution's testsuites are): files whole and in ranges and streams, atomic and
// exclusive writes, appends that resume and commit, listings, moves, removals, and the error
// kind of each missing path. Where the header lets drivers differ (a file system or an object
// store), the suite asks the driver's traits and checks the answer the header gives for each.
//
// A test file instantiates it with a way to make drivers on fresh storage:
//   INSTANTIATE_TEST_SUITE_P(Fs, DriverContract, ::testing::Values(DriverMaker{...}),
//                            driverName);

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/storage/driver.h"
#include "support/error_kind.h"
#include "support/process.h"

namespace regfs::testing {

struct DriverMaker {
  std::string name;  // the instantiation's name ("fs", "s3")
  // New, empty storage for one test (a directory below `scratch`, a bucket), named so that
  // `open` can reach it.
  std::function<std::string(const std::filesystem::path& scratch)> newStorage;
  // A driver on that storage; each call a new instance, as another process would have.
  std::function<std::shared_ptr<StorageDriver>(const std::string& storage)> open;

  // What driver.h lets differ:
  bool directories = true;     // directories exist on their own (createExclusive needs one)
  bool appendsVisible = true;  // what a writer flushed is a file before commit()
  bool local = true;           // localPath() and openLocal() answer
};

// gtest names a parameter by it, not by its bytes.
inline void PrintTo(const DriverMaker& maker, std::ostream* out) { *out << maker.name; }

inline std::string driverName(const ::testing::TestParamInfo<DriverMaker>& info) {
  return info.param.name;
}

class DriverContract : public ::testing::TestWithParam<DriverMaker> {
 protected:
  void SetUp() override {
    storage_ = GetParam().newStorage(scratch_.path());
    driver = GetParam().open(storage_);
  }
  // Another driver on the same storage.
  std::shared_ptr<StorageDriver> another() const { return GetParam().open(storage_); }
  const DriverMaker& traits() const { return GetParam(); }

  // `size` bytes that differ from those of another seed and repeat only every 251.
  static std::string pattern(size_t size, char seed) {
    std::string s(size, '\0');
    for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(seed + static_cast<char>(i % 251));
    return s;
  }

  static std::string readStream(const StorageDriver& d, const std::string& path, uint64_t offset,
                                uint64_t length) {
    std::string out;
    d.readStream(path, offset, length, [&](std::string_view piece) {
      out.append(piece);
      return true;
    });
    return out;
  }

  static constexpr uint64_t kMiB = 1 << 20;
  static inline const std::string kRoot = "/docker/registry/v2";

  TempDir scratch_;
  std::string storage_;
  std::shared_ptr<StorageDriver> driver;
};

TEST_P(DriverContract, MissingPathsAreNothing) {
  const std::string missing = kRoot + "/nothing/here";
  EXPECT_FALSE(driver->stat(missing));
  EXPECT_FALSE(driver->statFile(missing));
  EXPECT_EQ(kindOf([&] { driver->read(missing); }), ErrorKind::kNotFound);
  EXPECT_EQ(kindOf([&] { driver->readRange(missing, 0, 10); }), ErrorKind::kNotFound);
  EXPECT_EQ(kindOf([&] { readStream(*driver, missing, 0, 10); }), ErrorKind::kNotFound);
  EXPECT_TRUE(driver->list(missing).empty());
  EXPECT_TRUE(driver->list(kRoot).empty());
  EXPECT_TRUE(driver->listTree(missing).empty());
  EXPECT_EQ(kindOf([&] { driver->move(missing, kRoot + "/to"); }), ErrorKind::kNotFound);
  EXPECT_FALSE(driver->stat(kRoot + "/to"));
  EXPECT_NO_THROW(driver->remove(missing));
  EXPECT_FALSE(driver->isSymlink(missing));
  EXPECT_FALSE(driver->redirectUrl(missing));
  if (traits().local) {
    EXPECT_EQ(kindOf([&] { driver->openLocal(missing); }), ErrorKind::kNotFound);
  } else {
    EXPECT_FALSE(driver->openLocal(missing));
  }
}

TEST_P(DriverContract, WriteAtomicThenStatAndRead) {
  const std::string file = kRoot + "/repositories/a/b/_layers/link";
  driver->writeAtomic(file, "sha256:1234");  // parents are created
  auto info = driver->stat(file);
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->isDirectory);
  EXPECT_EQ(info->size, 11u);
  EXPECT_GT(info->mtime.tv_sec, 1700000000);
  auto whole = driver->statFile(file);
  ASSERT_TRUE(whole);
  EXPECT_FALSE(whole->isDirectory);
  EXPECT_EQ(whole->size, 11u);
  EXPECT_EQ(driver->read(file), "sha256:1234");
  EXPECT_FALSE(driver->isSymlink(file));

  for (const std::string& dir : {kRoot + "/repositories/a/b", kRoot + "/repositories", kRoot}) {
    auto d = driver->stat(dir);
    ASSERT_TRUE(d) << dir;
    EXPECT_TRUE(d->isDirectory) << dir;
    EXPECT_FALSE(driver->statFile(dir)) << dir << ": a directory is no file";
    EXPECT_EQ(kindOf([&] { driver->read(dir); }), ErrorKind::kNotFound) << dir;
  }

  driver->writeAtomic(file, "replaced");
  EXPECT_EQ(driver->read(file), "replaced");
  EXPECT_EQ(driver->stat(file)->size, 8u);
  driver->writeAtomic(file, "");
  EXPECT_EQ(driver->read(file), "");
  EXPECT_EQ(driver->statFile(file)->size, 0u);
  // No temporary file is left beside it.
  EXPECT_EQ(driver->list(kRoot + "/repositories/a/b/_layers"), std::vector<std::string>{"link"});

  // Another instance on the same storage sees the same file.
  EXPECT_EQ(another()->read(file), "");
}

TEST_P(DriverContract, WriteAtomicIsNeverSeenTorn) {
  const std::string file = kRoot + "/torn";
  const std::string a = pattern(256 << 10, 'a'), b = pattern(256 << 10, 'b');
  driver->writeAtomic(file, a);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 20; ++i) driver->writeAtomic(file, i % 2 ? a : b);
    done = true;
  });
  int reads = 0, torn = 0;
  while (!done || reads == 0) {
    std::string seen = driver->read(file);
    torn += seen != a && seen != b;
    ++reads;
  }
  writer.join();
  EXPECT_EQ(torn, 0) << "of " << reads << " reads";
}

TEST_P(DriverContract, Ranges) {
  const std::string file = kRoot + "/ranges";
  driver->writeAtomic(file, "0123456789");
  EXPECT_EQ(driver->readRange(file, 0, 10), "0123456789");
  EXPECT_EQ(driver->readRange(file, 3, 4), "3456");
  EXPECT_EQ(driver->readRange(file, 7, 100), "789") << "fewer at the end";
  EXPECT_EQ(driver->readRange(file, 9, 1), "9");
  EXPECT_EQ(driver->readRange(file, 10, 5), "") << "none at the end";
  EXPECT_EQ(driver->readRange(file, 50, 5), "") << "none past it";
  EXPECT_EQ(driver->readRange(file, 4, 0), "");
}

TEST_P(DriverContract, StreamsHandOverTheRangeAndStopWhenTold) {
  const std::string file = kRoot + "/stream";
  const std::string bytes = pattern(4 * kMiB + 1000, 's');  // past one default piece
  driver->writeAtomic(file, bytes);
  EXPECT_EQ(readStream(*driver, file, 0, bytes.size()), bytes);
  EXPECT_EQ(readStream(*driver, file, 17, 4 * kMiB), bytes.substr(17, 4 * kMiB));
  EXPECT_EQ(readStream(*driver, file, 5, 0), "");

  std::string first;
  int calls = 0;
  driver->readStream(file, 0, bytes.size(), [&](std::string_view piece) {
    first.assign(piece);
    ++calls;
    return false;  // stop
  });
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(first.empty());
  EXPECT_EQ(first, bytes.substr(0, first.size()));

  EXPECT_EQ(kindOf([&] { readStream(*driver, file, bytes.size() - 10, 20); }), ErrorKind::kIo)
      << "a file shorter than the range";
  EXPECT_EQ(kindOf([&] { readStream(*driver, file, bytes.size() + 10, 20); }), ErrorKind::kIo)
      << "a range past the end";
}

TEST_P(DriverContract, CreateExclusiveCreatesOnce) {
  const std::string dir = kRoot + "/exclusive";
  const std::string file = dir + "/claim";
  if (traits().directories) {
    EXPECT_EQ(kindOf([&] { driver->createExclusive(file, "first"); }), ErrorKind::kNotFound)
        << "no directories are made";
    EXPECT_FALSE(driver->stat(file));
  }
  driver->writeAtomic(dir + "/other", "x");
  EXPECT_TRUE(driver->createExclusive(file, "first"));
  EXPECT_FALSE(driver->createExclusive(file, "second"));
  EXPECT_FALSE(another()->createExclusive(file, "third"));
  EXPECT_EQ(driver->read(file), "first");
  EXPECT_EQ(driver->stat(file)->size, 5u);
  EXPECT_FALSE(driver->createExclusive(dir + "/other", "y")) << "whoever made it";
  EXPECT_EQ(driver->read(dir + "/other"), "x");
}

TEST_P(DriverContract, CreateExclusiveHasOneWinnerAmongRacers) {
  const std::string dir = kRoot + "/race";
  driver->writeAtomic(dir + "/startedat", "now");
  const std::string file = dir + "/lock";
  constexpr int kRacers = 8;
  std::vector<std::shared_ptr<StorageDriver>> drivers;
  for (int i = 0; i < kRacers; ++i) drivers.push_back(i % 2 ? driver : another());
  std::atomic<int> winners{0}, winner{-1};
  std::vector<std::thread> racers;
  for (int i = 0; i < kRacers; ++i) {
    racers.emplace_back([&, i] {
      if (drivers[static_cast<size_t>(i)]->createExclusive(file, "racer " + std::to_string(i))) {
        ++winners;
        winner = i;
      }
    });
  }
  for (auto& t : racers) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(driver->read(file), "racer " + std::to_string(winner.load()));
}

TEST_P(DriverContract, ListNamesEntriesSortedBytewise) {
  const std::string dir = kRoot + "/repositories/list";
  for (std::string name : {"b", "B", "_uploads", "a.b", "a", "a-b", "Z9"}) {
    driver->writeAtomic(dir + "/" + name, name);
  }
  driver->writeAtomic(dir + "/sub/deeper/file", "f");
  driver->writeAtomic(dir + "/sub/other", "o");
  driver->writeAtomic(kRoot + "/repositories/listing-beside", "not under it");
  EXPECT_EQ(driver->list(dir),
            (std::vector<std::string>{"B", "Z9", "_uploads", "a", "a-b", "a.b", "b", "sub"}));
  EXPECT_EQ(driver->list(dir + "/sub"), (std::vector<std::string>{"deeper", "other"}));
  EXPECT_EQ(driver->list(dir + "/sub/deeper"), std::vector<std::string>{"file"});
  EXPECT_EQ(driver->list(kRoot), std::vector<std::string>{"repositories"});
}

TEST_P(DriverContract, ListTreeHasEveryFileBelowWithItsSize) {
  const std::string dir = kRoot + "/tree";
  driver->writeAtomic(dir + "/one", "1");
  driver->writeAtomic(dir + "/a/two", "22");
  driver->writeAtomic(dir + "/a/b/c/three", "333");
  driver->writeAtomic(kRoot + "/treetop", "beside, not below");
  auto files = driver->listTree(dir);
  std::sort(files.begin(), files.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].first, dir + "/a/b/c/three");
  EXPECT_EQ(files[0].second.size, 3u);
  EXPECT_EQ(files[1].first, dir + "/a/two");
  EXPECT_EQ(files[1].second.size, 2u);
  EXPECT_EQ(files[2].first, dir + "/one");
  EXPECT_EQ(files[2].second.size, 1u);
  for (const auto& [path, info] : files) {
    EXPECT_FALSE(info.isDirectory) << path;
    EXPECT_GT(info.mtime.tv_sec, 1700000000) << path;
  }
  EXPECT_EQ(driver->listTree(dir + "/a/b").size(), 1u);
}

TEST_P(DriverContract, AppendsResumeAndCommit) {
  const std::string file = kRoot + "/repositories/r/_uploads/u/data";
  const std::string first = pattern(6 * kMiB + 11, 'f'), second = pattern(kMiB + 7, 'k');
  {
    auto writer = driver->openAppend(file);  // parents are created
    EXPECT_EQ(writer->size(), 0u);
    for (size_t off = 0; off < first.size(); off += kMiB) {
      size_t n = std::min<size_t>(kMiB, first.size() - off);
      writer->write(first.data() + off, n);
    }
    EXPECT_EQ(writer->size(), first.size());
    writer->flush();
  }
  auto info = driver->stat(file);
  ASSERT_TRUE(info) << "a file being appended to exists";
  EXPECT_FALSE(info->isDirectory);
  EXPECT_EQ(info->size, first.size());
  if (traits().appendsVisible) {
    EXPECT_TRUE(driver->statFile(file));
    EXPECT_EQ(driver->list(parentPath(file)), std::vector<std::string>{"data"});
    EXPECT_EQ(driver->listTree(parentPath(file)).size(), 1u);
  } else {
    EXPECT_FALSE(driver->statFile(file)) << "not yet a file written whole";
    EXPECT_TRUE(driver->list(parentPath(file)).empty());
    EXPECT_TRUE(driver->listTree(parentPath(file)).empty());
  }

  // Another instance goes on where the first left off.
  {
    auto writer = another()->openAppend(file);
    EXPECT_EQ(writer->size(), first.size());
    writer->write(second.data(), second.size());
    EXPECT_EQ(writer->size(), first.size() + second.size());
    writer->sync();
  }
  EXPECT_EQ(driver->stat(file)->size, first.size() + second.size());
  {
    auto writer = driver->openAppend(file);
    EXPECT_EQ(writer->size(), first.size() + second.size());
    writer->commit();
  }
  auto whole = driver->statFile(file);
  ASSERT_TRUE(whole) << "committed: a file";
  EXPECT_EQ(whole->size, first.size() + second.size());
  EXPECT_EQ(driver->read(file), first + second);
  EXPECT_EQ(driver->readRange(file, first.size() - 2, 4),
            first.substr(first.size() - 2) + second.substr(0, 2));
  EXPECT_EQ(driver->list(parentPath(file)), std::vector<std::string>{"data"});
  EXPECT_EQ(driver->listTree(parentPath(file)).size(), 1u);
}

TEST_P(DriverContract, AppendingToAWholeFileGoesOnAfterItsBytes) {
  const std::string file = kRoot + "/appended";
  driver->writeAtomic(file, "head");
  {
    auto writer = driver->openAppend(file);
    EXPECT_EQ(writer->size(), 4u);
    writer->write("tail", 4);
    EXPECT_EQ(writer->size(), 8u);
    writer->commit();
  }
  EXPECT_EQ(driver->read(file), "headtail");
  EXPECT_EQ(driver->statFile(file)->size, 8u);
}

TEST_P(DriverContract, SmallFlushedChunksMakeOneFile) {
  // An upload of chunks smaller than any part size, each in a writer of its own.
  const std::string file = kRoot + "/chunks/data";
  std::string all;
  for (int i = 0; i < 3; ++i) {
    auto writer = driver->openAppend(file);
    EXPECT_EQ(writer->size(), all.size());
    std::string chunk = pattern(1000 + static_cast<size_t>(i), static_cast<char>('a' + i));
    writer->write(chunk.data(), chunk.size());
    writer->flush();
    all += chunk;
    EXPECT_EQ(driver->stat(file)->size, all.size());
  }
  driver->openAppend(file)->commit();
  EXPECT_EQ(driver->read(file), all);
}

TEST_P(DriverContract, AlignedAndUnalignedWritesMakeTheSameBytes) {
  // Writes of FileWriter::kDirectAlign multiples from aligned memory may take another way
  // to storage than the rest; the file is the same.
  constexpr size_t kAlign = FileWriter::kDirectAlign;
  const std::string file = kRoot + "/aligned";
  std::string bytes = pattern(4 * kAlign + 10, 'd');
  std::vector<char> memory(bytes.size() + kAlign);
  void* start = memory.data();
  size_t space = memory.size();
  char* aligned = static_cast<char*>(std::align(kAlign, bytes.size(), start, space));
  ASSERT_NE(aligned, nullptr);
  std::copy(bytes.begin(), bytes.end(), aligned);
  {
    auto writer = driver->openAppend(file);
    writer->write(aligned, 2 * kAlign);                // aligned
    writer->write(aligned + 2 * kAlign, 10);           // unaligned length
    writer->write(aligned + 2 * kAlign + 10, kAlign);  // aligned memory, unaligned offset
    writer->write(aligned + 3 * kAlign + 10, kAlign);  // unaligned memory
    EXPECT_EQ(writer->size(), bytes.size());
    writer->commit();
  }
  EXPECT_EQ(driver->read(file), bytes);
}

TEST_P(DriverContract, AnEmptyAppendCommitsAnEmptyFile) {
  const std::string file = kRoot + "/empty/data";
  driver->openAppend(file);
  EXPECT_EQ(driver->stat(file)->size, 0u);
  driver->openAppend(file)->commit();
  EXPECT_EQ(driver->read(file), "");
  EXPECT_EQ(driver->statFile(file)->size, 0u);
}

TEST_P(DriverContract, RemoveTakesAFileOrATreeAndAppendsInProgress) {
  driver->writeAtomic(kRoot + "/rm/keep", "k");
  driver->writeAtomic(kRoot + "/rm/file", "f");
  driver->remove(kRoot + "/rm/file");
  EXPECT_FALSE(driver->stat(kRoot + "/rm/file"));
  EXPECT_EQ(driver->list(kRoot + "/rm"), std::vector<std::string>{"keep"});

  const std::string session = kRoot + "/rm/uploads/u1";
  driver->writeAtomic(session + "/startedat", "now");
  driver->writeAtomic(session + "/hashstates/sha256/0", "state");
  {
    auto writer = driver->openAppend(session + "/data");
    writer->write("partial", 7);
    writer->flush();
  }
  driver->remove(session);
  EXPECT_FALSE(driver->stat(session + "/data"));
  EXPECT_FALSE(driver->stat(session + "/startedat"));
  EXPECT_FALSE(driver->stat(session));
  EXPECT_TRUE(driver->listTree(session).empty());
  EXPECT_EQ(driver->openAppend(session + "/data")->size(), 0u) << "a new file, not the old one";
  EXPECT_EQ(driver->read(kRoot + "/rm/keep"), "k");
  driver->remove(session);  // again: nothing there, no error
}

TEST_P(DriverContract, MoveReplacesTheDestinationAndMakesItsParents) {
  driver->writeAtomic(kRoot + "/mv/from", "content");
  driver->move(kRoot + "/mv/from", kRoot + "/elsewhere/deep/to");
  EXPECT_FALSE(driver->stat(kRoot + "/mv/from"));
  EXPECT_EQ(driver->read(kRoot + "/elsewhere/deep/to"), "content");
  EXPECT_EQ(driver->statFile(kRoot + "/elsewhere/deep/to")->size, 7u);

  driver->writeAtomic(kRoot + "/mv/newer", "newer");
  driver->move(kRoot + "/mv/newer", kRoot + "/elsewhere/deep/to");
  EXPECT_EQ(driver->read(kRoot + "/elsewhere/deep/to"), "newer");
  EXPECT_FALSE(driver->stat(kRoot + "/mv/newer"));
}

TEST_P(DriverContract, MoveTakesACommittedAppend) {
  const std::string upload = kRoot + "/uploads/u/data";
  const std::string blob = kRoot + "/blobs/sha256/ab/abcd/data";
  const std::string bytes = pattern(5 * kMiB + 3, 'm');
  {
    auto writer = driver->openAppend(upload);
    writer->write(bytes.data(), bytes.size());
    writer->commit();
  }
  driver->move(upload, blob);
  EXPECT_FALSE(driver->stat(upload));
  EXPECT_EQ(driver->statFile(blob)->size, bytes.size());
  EXPECT_EQ(driver->read(blob), bytes);
}

TEST_P(DriverContract, MoveTakesADirectoryWithEverythingUnderIt) {
  // As garbage collection parks a blob's directory in quarantine.
  driver->writeAtomic(kRoot + "/blobs/sha256/ab/abcd/data", "blob");
  driver->writeAtomic(kRoot + "/blobs/sha256/ab/abcd/sub/more", "more");
  driver->move(kRoot + "/blobs/sha256/ab/abcd", kRoot + "/quarantine/abcd");
  EXPECT_FALSE(driver->stat(kRoot + "/blobs/sha256/ab/abcd"));
  EXPECT_FALSE(driver->stat(kRoot + "/blobs/sha256/ab/abcd/data"));
  EXPECT_EQ(driver->read(kRoot + "/quarantine/abcd/data"), "blob");
  EXPECT_EQ(driver->read(kRoot + "/quarantine/abcd/sub/more"), "more");
  EXPECT_EQ(driver->list(kRoot + "/quarantine/abcd"), (std::vector<std::string>{"data", "sub"}));
}

TEST_P(DriverContract, LocalFilesAreNamedAndOpenedOnlyOnLocalStorage) {
  const std::string file = kRoot + "/local";
  driver->writeAtomic(file, "local bytes");
  EXPECT_FALSE(driver->redirectUrl(file)) << "no redirects unless asked for";
  if (!traits().local) {
    EXPECT_FALSE(driver->localPath(file));
    EXPECT_FALSE(driver->openLocal(file));
    return;
  }
  auto path = driver->localPath(file);
  ASSERT_TRUE(path);
  EXPECT_TRUE(std::filesystem::is_regular_file(*path));
  UniqueFd fd = driver->openLocal(file);
  ASSERT_TRUE(fd);
  char buf[32];
  ssize_t n = ::read(fd.get(), buf, sizeof buf);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0))), "local bytes");
}

}  // namespace regfs::testing
