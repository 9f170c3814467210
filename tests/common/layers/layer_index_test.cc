// The layer index file: what is written reads back equal, and nothing else is ever trusted.
#include "common/layers/layer_index.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace regfs::layers {
namespace {

const Digest kBlob = Digest::of("a layer");

LayerIndex sampleIndex() {
  LayerIndex index{kBlob};
  index.stream.compression = Compression::kGzip;
  index.stream.compressedSize = 5000;
  index.stream.uncompressedSize = 1 << 20;
  index.stream.checkpoints = {{0, 10, 0, ""}, {300000, 2000, 5, std::string(700, 'w')}};
  Entry dir{"etc", EntryType::kDirectory, 0755};
  dir.mtimeSec = -5;  // before 1970: a signed number
  Entry file{"etc/os-release", EntryType::kRegular, 04755, 1000, 1000,
             1700000000,       123456789,           42,    512};
  file.xattrs = {{"user.comment", std::string("a\0b", 3)}, {"security.capability", "\x01\x02"}};
  Entry sparse{"var/sparse", EntryType::kRegular, 0644};
  sparse.size = 1 << 16;
  sparse.dataOffset = 4096;
  sparse.sparse = {{0, 512}, {60000, 100}};
  Entry link{"bin/sh", EntryType::kSymlink, 0777};
  link.linkTarget = "/bin/../../busybox";
  Entry hard{"bin/ls", EntryType::kHardlink, 0755};
  hard.linkTarget = "bin/busybox";
  Entry dev{"dev/null", EntryType::kCharDevice, 0666};
  dev.devMajor = 1;
  dev.devMinor = 3;
  Entry odd{std::string("we\nird\xff", 7), EntryType::kFifo, 0600};
  index.entries = {dir, file, sparse, link, hard, dev, odd};
  index.droppedEntries = 2;
  index.droppedNames = {"../x", "a/../../y"};
  return index;
}

TEST(LayerIndexFile, WhatIsWrittenReadsBackEqual) {
  LayerIndex index = sampleIndex();
  EXPECT_EQ(decodeIndex(encodeIndex(index), kBlob), index);

  LayerIndex failed{kBlob};
  failed.failure = LayerIndex::Failure{ErrorKind::kSizeInvalid, "past the limit", "tar:1"};
  EXPECT_EQ(decodeIndex(encodeIndex(failed), kBlob), failed);

  LayerIndex empty{kBlob};
  EXPECT_EQ(decodeIndex(encodeIndex(empty), kBlob), empty);
}

TEST(LayerIndexFile, EveryFlippedByteIsDetected) {
  std::string bytes = encodeIndex(sampleIndex());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    EXPECT_THROW(decodeIndex(bad, kBlob), Error) << "byte " << i;
  }
}

TEST(LayerIndexFile, EveryTruncationIsDetected) {
  std::string bytes = encodeIndex(sampleIndex());
  for (size_t n = 0; n < bytes.size(); ++n) {
    try {
      decodeIndex(std::string_view(bytes).substr(0, n), kBlob);
      ADD_FAILURE() << "a torn file of " << n << " bytes was trusted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    }
  }
  EXPECT_THROW(decodeIndex(bytes + "x", kBlob), Error);
}

TEST(LayerIndexFile, TheIndexOfAnotherBlobIsNotTrusted) {
  std::string bytes = encodeIndex(sampleIndex());
  EXPECT_THROW(decodeIndex(bytes, Digest::of("another layer")), Error);
}

TEST(LayerIndexFile, AFileOverTheSizeLimitIsNotRead) {
  std::string bytes = encodeIndex(sampleIndex());
  IndexLimits limits;
  limits.maxIndexBytes = bytes.size() - 1;
  EXPECT_THROW(decodeIndex(bytes, kBlob, limits), Error);
  limits.maxIndexBytes = 1 << 20;  // also bounds the body once inflated
  EXPECT_NO_THROW(decodeIndex(bytes, kBlob, limits));
}

TEST(LayerIndexFile, LimitFingerprintsDifferWhenALimitDoes) {
  IndexLimits a, b;
  b.tar.maxEntries = a.tar.maxEntries + 1;
  EXPECT_NE(a.fingerprint(), b.fingerprint());
  b = a;
  b.scan.maxUncompressed = 1;
  EXPECT_NE(a.fingerprint(), b.fingerprint());
  EXPECT_EQ(a.fingerprint(), IndexLimits{}.fingerprint());
}

}  // namespace
}  // namespace regfs::layers
