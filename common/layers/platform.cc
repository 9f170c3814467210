#include "common/layers/platform.h"

#include <algorithm>
#include <vector>

#include "common/error.h"

namespace regfs::layers {

Platform parsePlatform(std::string_view text) {
  Platform p;
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t slash; (slash = text.find('/', start)) != std::string_view::npos; start = slash + 1)
    parts.emplace_back(text.substr(start, slash - start));
  parts.emplace_back(text.substr(start));
  bool empty = std::any_of(parts.begin(), parts.end(), [](const auto& s) { return s.empty(); });
  if (parts.size() < 2 || parts.size() > 3 || empty)
    throw Error(ErrorKind::kInvalidArgument,
                "platform \"" + std::string(text) + "\" is not OS/ARCH or OS/ARCH/VARIANT");
  p.os = parts[0];
  p.architecture = parts[1];
  if (parts.size() == 3) p.variant = parts[2];
  return p;
}

Platform hostPlatform() {
  Platform p;
  p.os = "linux";
#if defined(__x86_64__)
  p.architecture = "amd64";
#elif defined(__aarch64__)
  p.architecture = "arm64";
#elif defined(__arm__)
  p.architecture = "arm";
#elif defined(__i386__)
  p.architecture = "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  p.architecture = "ppc64le";
#elif defined(__s390x__)
  p.architecture = "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  p.architecture = "riscv64";
#else
  p.architecture = "unknown";
#endif
  return p;
}

std::string platformString(const Platform& platform) {
  std::string out = platform.os + "/" + platform.architecture;
  if (!platform.variant.empty()) out += "/" + platform.variant;
  return out;
}

const Descriptor* childFor(const Manifest& index, const Platform& wanted) {
  for (const Descriptor& child : index.manifests) {
    if (!child.platform) continue;
    const Platform& p = *child.platform;
    if (p.os == wanted.os && p.architecture == wanted.architecture &&
        (wanted.variant.empty() || p.variant == wanted.variant))
      return &child;
  }
  return nullptr;
}

std::string platformsOf(const Manifest& index) {
  std::string out;
  for (const Descriptor& child : index.manifests) {
    if (child.platform) out += (out.empty() ? "" : ", ") + platformString(*child.platform);
  }
  return out.empty() ? "no platforms" : out;
}

}  // namespace regfs::layers
