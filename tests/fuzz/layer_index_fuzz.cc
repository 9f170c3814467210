// The layer index loader (common/layers/layer_index.h) on hostile files. Half the inputs are
// taken as whole files; the other half as a body, wrapped the way encodeIndex wraps one (with
// a checksum that matches), so the fuzzer reaches the body's parser past the checksum.
#include <zstd.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/layers/layer_index.h"
#include "fuzz_check.h"

namespace {

const regfs::Digest kBlob = regfs::Digest::of("fuzzed layer");

std::string wrapBody(std::string_view body) {
  std::string stored(ZSTD_compressBound(body.size()), '\0');
  size_t n = ZSTD_compress(stored.data(), stored.size(), body.data(), body.size(), 1);
  stored.resize(ZSTD_isError(n) ? 0 : n);
  std::string out = "RGFSLIDX";
  auto put = [&](uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
  };
  put(1, 4);
  put(body.size(), 8);
  put(stored.size(), 8);
  out += stored;
  regfs::Hasher hasher;
  hasher.update(out);
  std::string hex = hasher.digest().hex();
  for (size_t i = 0; i < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string file;
  if (data[0] & 1) {
    std::string body = "\x47sha256:" + kBlob.hex();  // a body that names the right blob
    body += input;
    file = wrapBody(body);
  } else {
    file = std::string(input);
  }
  regfs::layers::IndexLimits limits;
  limits.maxIndexBytes = 8 << 20;
  try {
    regfs::layers::LayerIndex index = regfs::layers::decodeIndex(file, kBlob, limits);
    // What loads, writes back to a file that loads as the same index.
    FUZZ_CHECK(
        regfs::layers::decodeIndex(regfs::layers::encodeIndex(index), kBlob, limits) == index,
        "an index read back differs from the one written");
  } catch (const regfs::Error& e) {
    FUZZ_CHECK(e.kind() == regfs::ErrorKind::kInvalidArgument,
               std::string("a bad index throws another kind: ") + e.what());
    FUZZ_CHECK(std::string_view(e.what()).size() <= regfs::fuzz::kMaxErrorMessage,
               "an error message that long");
  }
  return 0;
}
