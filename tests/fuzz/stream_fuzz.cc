// Fuzz target: the compressed stream. The input is a layer blob (gzip, zstd or plain by its
// magic bytes); scanStream runs over it with small limits, then StreamReader reads slices
// chosen from the input's hash and every slice must equal the scan's bytes there.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/layers/stream.h"
#include "tests/fuzz/fuzz_check.h"

namespace regfs::fuzz {
namespace {

void checkReads(const layers::BlobSource& blob, const layers::SeekPoints& points,
                const std::string& stream) {
  FUZZ_CHECK(points.uncompressedSize == stream.size(), "uncompressedSize is not the sink's");
  FUZZ_CHECK(points.compression == layers::Compression::kNone || !points.checkpoints.empty(),
             "a compressed stream without a checkpoint at its start");
  layers::StreamReader reader(blob, points);
  std::string buffer;
  uint64_t x = stream.size() * 0x9e3779b97f4a7c15ull + 1;
  for (int i = 0; i < 8; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint64_t offset = stream.empty() ? 0 : x % (stream.size() + 2);
    size_t length = (x >> 32) % 70'000;
    if (i == 1) offset = 0;  // a sequential pair: the second continues the first
    if (i == 2) offset = std::min<uint64_t>(length, stream.size());
    buffer.assign(length, '\0');
    size_t got = reader.read(offset, buffer.data(), length);
    std::string_view want;
    if (offset < stream.size()) want = std::string_view(stream).substr(offset, length);
    FUZZ_CHECK(std::string_view(buffer.data(), got) == want,
               "read at " + std::to_string(offset) + " differs from the scan");
  }
}

}  // namespace
}  // namespace regfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace regfs;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto blob = layers::memorySource(input);
  layers::ScanOptions options;
  options.maxUncompressed = 16 << 20;
  options.span = 64 * 1024;
  options.windowShare = 1;  // a checkpoint every span: more seeks to check
  std::string stream;
  layers::SeekPoints points;
  try {
    points = layers::scanStream(
        *blob, [&](std::string_view piece) { stream.append(piece); }, options);
  } catch (const Error& e) {
    FUZZ_CHECK(e.kind() == ErrorKind::kInvalidArgument || e.kind() == ErrorKind::kSizeInvalid,
               std::string("scan failed with an unexpected kind: ") + e.what());
    FUZZ_CHECK(stream.size() <= options.maxUncompressed, "output past maxUncompressed");
    return 0;
  }
  FUZZ_CHECK(points.compressedSize == size, "compressedSize is not the blob's");
  regfs::fuzz::checkReads(*blob, points, stream);
  return 0;
}
