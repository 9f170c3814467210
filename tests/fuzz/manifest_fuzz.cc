// Fuzz target: the manifest model. Input: manifest bytes, as a client pushes them or as a store
// holds them. Checks that
//   - parseManifest and parseStoredManifest throw nothing but MANIFEST_INVALID / DIGEST_INVALID;
//   - a parsed model keeps the contract of common/manifest.h (types, kinds, digests, sizes);
//   - whatever a push accepts reads back from the store as the same model, so a stored manifest
//     is served, viewed and garbage-collected as it was validated;
//   - the Content-Type's case and parameters do not matter, and a non-manifest one counts as none;
//   - platform entry names are unique, safe file names; the referrers index round-trips.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/manifest.h"
#include "tests/fuzz/fuzz_check.h"

namespace regfs::fuzz {
namespace {

constexpr std::string_view kPushTypes[] = {media::kDockerManifest, media::kDockerManifestList,
                                           media::kOciManifest, media::kOciIndex};

bool isSchema1(std::string_view t) {
  return t == media::kDockerSchema1 || t == media::kDockerSchema1Signed;
}

bool samePlatform(const std::optional<Platform>& a, const std::optional<Platform>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  return a->os == b->os && a->architecture == b->architecture && a->variant == b->variant &&
         a->osVersion == b->osVersion && a->osFeatures == b->osFeatures;
}

bool sameDescriptor(const Descriptor& a, const Descriptor& b) {
  return a.mediaType == b.mediaType && a.digest == b.digest && a.size == b.size &&
         a.artifactType == b.artifactType && samePlatform(a.platform, b.platform) &&
         a.urls == b.urls && a.annotations == b.annotations;
}

bool sameDescriptors(const std::vector<Descriptor>& a, const std::vector<Descriptor>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), sameDescriptor);
}

bool sameOptional(const std::optional<Descriptor>& a, const std::optional<Descriptor>& b) {
  return a.has_value() == b.has_value() && (!a || sameDescriptor(*a, *b));
}

bool sameManifest(const Manifest& a, const Manifest& b) {
  return a.mediaType == b.mediaType && a.kind == b.kind && a.artifactType == b.artifactType &&
         sameOptional(a.config, b.config) && sameDescriptors(a.layers, b.layers) &&
         sameDescriptors(a.manifests, b.manifests) && sameOptional(a.subject, b.subject) &&
         a.annotations == b.annotations;
}

void checkDescriptor(const Descriptor& d, bool schema1Layer, const std::string& what) {
  FUZZ_CHECK(Digest::tryParse(d.digest.str()) == d.digest, what + ": digest does not round-trip");
  if (schema1Layer) {
    FUZZ_CHECK(d.size == -1, what + ": a schema 1 layer must have size -1");
    FUZZ_CHECK(d.mediaType == media::kDockerSchema1Layer, what + ": schema 1 layer media type");
  }
  static const std::set<std::string> kExtensions = {".tar.gz", ".tar",  ".tar.zst", ".gz",
                                                    ".zst",    ".json", ".txt",     ".bin"};
  FUZZ_CHECK(kExtensions.count(layerFileExtension(d.mediaType)) == 1,
             what + ": layerFileExtension gave " + layerFileExtension(d.mediaType));
}

void checkFileName(const std::string& name, size_t max, const std::string& what) {
  FUZZ_CHECK(!name.empty() && name != "." && name != "..", what + ": unusable name " + show(name));
  FUZZ_CHECK(name.size() <= max,
             what + ": name longer than " + std::to_string(max) + ": " + show(name));
  FUZZ_CHECK(name.find('/') == std::string::npos && name.find('\0') == std::string::npos,
             what + ": name with '/' or NUL: " + show(name));
}

void checkPlatforms(const Manifest& m) {
  for (const Descriptor& child : m.manifests) {
    if (!child.platform) continue;
    std::string name = platformName(*child.platform);
    checkFileName(name, 200, "platformName");
    FUZZ_CHECK(std::all_of(name.begin(), name.end(),
                           [](char c) {
                             return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '+' ||
                                    c == '-';
                           }),
               "platformName has a character outside [A-Za-z0-9._+-]: " + show(name));
  }
  std::vector<std::string> names = platformEntryNames(m.manifests);
  FUZZ_CHECK(names.size() == m.manifests.size(), "platformEntryNames: one name per child");
  FUZZ_CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size(),
             "platformEntryNames: names are not unique");
  for (const auto& n : names) checkFileName(n, 255, "platformEntryNames");
  FUZZ_CHECK(platformEntryNames(m.manifests) == names, "platformEntryNames is not stable");

  if (m.mediaType == media::kDockerManifestList) {
    const Descriptor* child = nullptr;
    bool found = throwsOnly("defaultPlatformChild", {ErrorKind::kManifestUnknown}, true,
                            [&] { child = &defaultPlatformChild(m); });
    bool hasAmd64 = std::any_of(m.manifests.begin(), m.manifests.end(), [](const Descriptor& d) {
      return d.platform && d.platform->os == "linux" && d.platform->architecture == "amd64";
    });
    FUZZ_CHECK(found == hasAmd64, "defaultPlatformChild is wrong about a linux/amd64 child");
    if (found) {
      FUZZ_CHECK(child->platform->os == "linux" && child->platform->architecture == "amd64",
                 "defaultPlatformChild returned another platform");
    }
  }
}

// What a referrers response says must read back as the descriptors it was made from.
void checkReferrersIndex(const std::vector<Descriptor>& descriptors, const std::string& what) {
  std::string json = referrersIndexJson(descriptors);
  std::optional<Manifest> back;
  bool ok = throwsOnly("parseManifest(referrersIndexJson)", {}, true,
                       [&] { back = parseManifest(json, media::kOciIndex); });
  FUZZ_CHECK(ok, what + ": the referrers index does not parse");
  FUZZ_CHECK(back->kind == ManifestKind::kIndex && back->mediaType == media::kOciIndex,
             what + ": the referrers index is not an OCI index");
  FUZZ_CHECK(sameDescriptors(back->manifests, descriptors),
             what + ": the referrers index does not round-trip: " + show(json));
}

void checkModel(const Manifest& m, std::string_view bytes, bool stored) {
  bool schema1 = isSchema1(m.mediaType);
  FUZZ_CHECK(std::find(std::begin(kPushTypes), std::end(kPushTypes), m.mediaType) !=
                     std::end(kPushTypes) ||
                 (stored && schema1),
             "unexpected mediaType " + show(m.mediaType));
  FUZZ_CHECK(isManifestMediaType(m.mediaType) == !schema1, "isManifestMediaType disagrees");
  bool index = m.mediaType == media::kDockerManifestList || m.mediaType == media::kOciIndex;
  FUZZ_CHECK((m.kind == ManifestKind::kIndex) == index, "kind does not match mediaType");
  bool docker = m.mediaType == media::kDockerManifest || m.mediaType == media::kDockerManifestList;
  if (docker || schema1) {
    FUZZ_CHECK(!m.subject && m.annotations.empty(),
               "a Docker manifest with subject or annotations");
  }
  if (index) {
    FUZZ_CHECK(!m.config && m.layers.empty(), "an index with config or layers");
  } else {
    FUZZ_CHECK(m.manifests.empty(), "an image manifest with children");
    FUZZ_CHECK(m.config.has_value() != schema1, "config presence is wrong for " + m.mediaType);
  }
  if (m.config) checkDescriptor(*m.config, false, "config");
  for (const auto& d : m.layers) checkDescriptor(d, schema1, "layer");
  for (const auto& d : m.manifests) checkDescriptor(d, false, "child");
  if (m.subject) checkDescriptor(*m.subject, false, "subject");
  if (m.mediaType == media::kDockerManifest) {
    for (const auto& d : m.layers) {
      FUZZ_CHECK(d.mediaType != media::kDockerForeignLayer || !d.urls.empty(),
                 "a Docker foreign layer without urls");
    }
  }
  if (!index && !schema1 && m.artifactType.empty()) {
    FUZZ_CHECK(m.config->mediaType.empty(), "artifactType is empty though config has a mediaType");
  }

  std::vector<Descriptor> blobs = m.blobReferences();
  std::set<Digest> expected;
  if (m.config) expected.insert(m.config->digest);
  for (const auto& d : m.layers) expected.insert(d.digest);
  std::set<Digest> got;
  for (const auto& d : blobs)
    FUZZ_CHECK(got.insert(d.digest).second, "blobReferences repeats a digest");
  FUZZ_CHECK(got == expected, "blobReferences is not the set of config and layer digests");
  for (const auto& d : m.requiredBlobs()) {
    FUZZ_CHECK(got.count(d.digest) == 1, "requiredBlobs names a blob outside blobReferences");
  }
  FUZZ_CHECK(sameDescriptors(m.manifestReferences(), m.manifests),
             "manifestReferences != manifests");

  checkPlatforms(m);
  Descriptor self = referrerDescriptor(m, Digest::of(bytes), static_cast<int64_t>(bytes.size()));
  FUZZ_CHECK(self.mediaType == m.mediaType && self.artifactType == m.artifactType &&
                 self.annotations == m.annotations,
             "referrerDescriptor does not describe the manifest");
  checkReferrersIndex({self}, "referrer descriptor");
  if (!m.manifests.empty()) checkReferrersIndex(m.manifests, "index children");
}

std::optional<Manifest> pushed(std::string_view bytes, std::string_view contentType) {
  std::optional<Manifest> m;
  throwsOnly("parseManifest", {ErrorKind::kManifestInvalid, ErrorKind::kDigestInvalid}, true,
             [&] { m = parseManifest(bytes, contentType); });
  return m;
}

std::string upperCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

}  // namespace
}  // namespace regfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace regfs;
  using namespace regfs::fuzz;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);

  std::optional<Manifest> stored;
  throwsOnly("parseStoredManifest", {ErrorKind::kManifestInvalid, ErrorKind::kDigestInvalid}, true,
             [&] { stored = parseStoredManifest(bytes); });
  if (stored) checkModel(*stored, bytes, true);

  // Without a manifest Content-Type the JSON decides; any other type counts as none.
  std::optional<Manifest> plain = pushed(bytes, "");
  std::optional<Manifest> other = pushed(bytes, "application/octet-stream");
  FUZZ_CHECK(plain.has_value() == other.has_value() && (!plain || sameManifest(*plain, *other)),
             "a non-manifest Content-Type changes the outcome");
  if (plain) {
    checkModel(*plain, bytes, false);
    FUZZ_CHECK(stored && sameManifest(*plain, *stored),
               "a manifest accepted on push reads back from the store differently");
  }

  for (std::string_view type : kPushTypes) {
    std::optional<Manifest> m = pushed(bytes, type);
    std::optional<Manifest> decorated = pushed(bytes, " " + upperCase(type) + " ; charset=utf-8");
    FUZZ_CHECK(m.has_value() == decorated.has_value() && (!m || sameManifest(*m, *decorated)),
               "Content-Type case or parameters change the outcome for " + std::string(type));
    if (!m) continue;
    FUZZ_CHECK(m->mediaType == type, "the Content-Type did not decide the type");
    checkModel(*m, bytes, false);
    FUZZ_CHECK(stored && sameManifest(*m, *stored), "a manifest accepted on push as " +
                                                        std::string(type) +
                                                        " reads back from the store differently");
  }
  for (std::string_view type : {media::kDockerSchema1, media::kDockerSchema1Signed}) {
    FUZZ_CHECK(!pushed(bytes, type), "a schema 1 Content-Type was accepted on push");
  }
  return 0;
}
