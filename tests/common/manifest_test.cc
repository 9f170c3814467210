#include "common/manifest.h"

#include <gtest/gtest.h>

#include <regex>

#include "common/error.h"
#include "support/image.h"

namespace regfs {
namespace {

using testing::descriptor;

// Replaces every <name> in `json` with the sha256 digest of "name", so fixtures read like the
// real manifests they copy while their digests stay valid.
std::string fill(const std::string& json) {
  static const std::regex kToken("<([a-z0-9.-]+)>");
  std::string out;
  auto begin = std::sregex_iterator(json.begin(), json.end(), kToken);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    out += json.substr(last, it->position() - last);
    out += Digest::of((*it)[1].str()).str();
    last = it->position() + it->length();
  }
  return out + json.substr(last);
}

Digest d(std::string_view name) { return Digest::of(name); }

// Expects `bytes` (pushed with `contentType`) to be refused with `kind`, the message containing
// `fragment`.
void expectRefused(const std::string& bytes, std::string_view contentType, ErrorKind kind,
                   std::string_view fragment) {
  try {
    parseManifest(bytes, contentType);
    ADD_FAILURE() << "accepted: " << bytes.substr(0, 200);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message \"" << e.what() << "\" lacks \"" << fragment << "\"";
  }
}

// docker push of a single-platform image (Docker Engine, classic builder).
const std::string kDockerImage = fill(R"({
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {
      "mediaType": "application/vnd.docker.container.image.v1+json",
      "size": 1472,
      "digest": "<config>"
   },
   "layers": [
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 3408729,
         "digest": "<base>"
      },
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 32,
         "digest": "<app>"
      }
   ]
})");

// The Docker Hub manifest list of a multi-platform official image.
const std::string kDockerList = fill(R"({
   "manifests": [
      {"digest": "<amd64>", "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
       "platform": {"architecture": "amd64", "os": "linux"}, "size": 528},
      {"digest": "<armv6>", "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
       "platform": {"architecture": "arm", "os": "linux", "variant": "v6"}, "size": 528},
      {"digest": "<armv7>", "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
       "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}, "size": 528},
      {"digest": "<arm64>", "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
       "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}, "size": 528},
      {"digest": "<win>", "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
       "platform": {"architecture": "amd64", "os": "windows", "os.version": "10.0.17763.5458",
                    "os.features": ["win32k"]}, "size": 1125}
   ],
   "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
   "schemaVersion": 2
})");

// docker buildx build --platform linux/amd64,linux/arm64 --push (provenance on): an OCI index
// whose attestation manifests carry the platform unknown/unknown.
const std::string kBuildxIndex = fill(R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "<img-amd64>",
     "size": 673, "platform": {"architecture": "amd64", "os": "linux"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "<img-arm64>",
     "size": 673, "platform": {"architecture": "arm64", "os": "linux"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "<att-amd64>",
     "size": 566,
     "annotations": {"vnd.docker.reference.digest": "<img-amd64>",
                     "vnd.docker.reference.type": "attestation-manifest"},
     "platform": {"architecture": "unknown", "os": "unknown"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "<att-arm64>",
     "size": 566,
     "annotations": {"vnd.docker.reference.digest": "<img-arm64>",
                     "vnd.docker.reference.type": "attestation-manifest"},
     "platform": {"architecture": "unknown", "os": "unknown"}}
  ]
})");

// An OCI 1.1 artifact (oras attach / notation / cosign with referrers): empty config,
// artifactType, subject.
const std::string kArtifact = fill(R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "artifactType": "application/vnd.example.sbom.v1",
  "config": {
    "mediaType": "application/vnd.oci.empty.v1+json",
    "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    "size": 2,
    "data": "e30="
  },
  "layers": [
    {"mediaType": "application/spdx+json", "digest": "<sbom>", "size": 12345,
     "annotations": {"org.opencontainers.image.title": "sbom.spdx.json"}}
  ],
  "subject": {
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "<img-amd64>",
    "size": 673
  },
  "annotations": {"org.opencontainers.image.created": "2024-05-01T10:00:00Z"}
})");

// docker push of an image built on a registry:2-era engine, as still found in old stores.
const std::string kSchema1 = fill(R"({
   "schemaVersion": 1,
   "name": "library/hello",
   "tag": "latest",
   "architecture": "amd64",
   "fsLayers": [
      {"blobSum": "<top>"},
      {"blobSum": "<empty>"},
      {"blobSum": "<bottom>"},
      {"blobSum": "<empty>"}
   ],
   "history": [{"v1Compatibility": "{}"}, {"v1Compatibility": "{}"},
               {"v1Compatibility": "{}"}, {"v1Compatibility": "{}"}],
   "signatures": [{"header": {"alg": "ES256"}, "signature": "abc", "protected": "def"}]
})");

TEST(ManifestParse, DockerImage) {
  Manifest m = parseManifest(kDockerImage, media::kDockerManifest);
  EXPECT_EQ(m.mediaType, media::kDockerManifest);
  EXPECT_EQ(m.kind, ManifestKind::kImage);
  ASSERT_TRUE(m.config);
  EXPECT_EQ(m.config->mediaType, "application/vnd.docker.container.image.v1+json");
  EXPECT_EQ(m.config->digest, d("config"));
  EXPECT_EQ(m.config->size, 1472);
  ASSERT_EQ(m.layers.size(), 2u);
  EXPECT_EQ(m.layers[0].digest, d("base"));
  EXPECT_EQ(m.layers[0].size, 3408729);
  EXPECT_EQ(m.layers[1].digest, d("app"));
  EXPECT_EQ(m.artifactType, "application/vnd.docker.container.image.v1+json");
  EXPECT_FALSE(m.subject);
  EXPECT_TRUE(m.manifests.empty());
  EXPECT_TRUE(m.manifestReferences().empty());
  auto blobs = m.blobReferences();
  ASSERT_EQ(blobs.size(), 3u);
  EXPECT_EQ(blobs[0].digest, d("config"));
  EXPECT_EQ(blobs[2].digest, d("app"));
  EXPECT_EQ(m.requiredBlobs().size(), 3u);
  // Without a Content-Type the mediaType field decides; parameters and case do not matter.
  EXPECT_EQ(parseManifest(kDockerImage).mediaType, media::kDockerManifest);
  EXPECT_EQ(parseManifest(kDockerImage, "Application/VND.docker.distribution.manifest.v2+json; x=y")
                .mediaType,
            media::kDockerManifest);
  EXPECT_EQ(parseManifest(kDockerImage, "application/octet-stream").mediaType,
            media::kDockerManifest);
}

TEST(ManifestParse, DockerList) {
  Manifest m = parseManifest(kDockerList, media::kDockerManifestList);
  EXPECT_EQ(m.kind, ManifestKind::kIndex);
  EXPECT_EQ(m.mediaType, media::kDockerManifestList);
  EXPECT_FALSE(m.config);
  EXPECT_TRUE(m.blobReferences().empty());
  EXPECT_TRUE(m.requiredBlobs().empty());
  EXPECT_TRUE(m.artifactType.empty());
  ASSERT_EQ(m.manifests.size(), 5u);
  ASSERT_EQ(m.manifestReferences().size(), 5u);
  EXPECT_EQ(m.manifestReferences()[2].digest, d("armv7"));
  ASSERT_TRUE(m.manifests[2].platform);
  EXPECT_EQ(m.manifests[2].platform->variant, "v7");
  const Platform& win = *m.manifests[4].platform;
  EXPECT_EQ(win.os, "windows");
  EXPECT_EQ(win.osVersion, "10.0.17763.5458");
  EXPECT_EQ(win.osFeatures, std::vector<std::string>{"win32k"});
  EXPECT_EQ(defaultPlatformChild(m).digest, d("amd64"));
  EXPECT_EQ(platformEntryNames(m.manifests),
            (std::vector<std::string>{"linux-amd64", "linux-arm-v6", "linux-arm-v7",
                                      "linux-arm64-v8", "windows-amd64-10.0.17763.5458+win32k"}));
}

TEST(ManifestParse, BuildxIndexWithAttestations) {
  Manifest m = parseManifest(kBuildxIndex, media::kOciIndex);
  EXPECT_EQ(m.kind, ManifestKind::kIndex);
  EXPECT_EQ(m.mediaType, media::kOciIndex);
  ASSERT_EQ(m.manifests.size(), 4u);
  EXPECT_EQ(m.manifests[2].platform->os, "unknown");
  EXPECT_EQ(m.manifests[2].annotations.at("vnd.docker.reference.type"), "attestation-manifest");
  EXPECT_EQ(platformEntryNames(m.manifests),
            (std::vector<std::string>{"linux-amd64", "linux-arm64", "linux-amd64.attestation",
                                      "linux-arm64.attestation"}));
  // An index without mediaType: the Content-Type decides, else the shape.
  std::string bare = std::regex_replace(
      kBuildxIndex, std::regex(R"("mediaType": "application/vnd.oci.image.index.v1\+json",)"), "");
  ASSERT_EQ(bare.find("image.index"), std::string::npos);
  EXPECT_EQ(parseManifest(bare, media::kOciIndex).mediaType, media::kOciIndex);
  EXPECT_EQ(parseManifest(bare).mediaType, media::kOciIndex);
  EXPECT_EQ(parseStoredManifest(bare).mediaType, media::kOciIndex);
}

TEST(ManifestParse, ArtifactWithSubject) {
  Manifest m = parseManifest(kArtifact, media::kOciManifest);
  EXPECT_EQ(m.kind, ManifestKind::kImage);
  EXPECT_EQ(m.artifactType, "application/vnd.example.sbom.v1");
  ASSERT_TRUE(m.config);
  EXPECT_EQ(m.config->mediaType, media::kOciEmpty);
  EXPECT_EQ(m.config->digest, Digest::of("{}"));
  ASSERT_TRUE(m.subject);
  EXPECT_EQ(m.subject->digest, d("img-amd64"));
  EXPECT_EQ(m.subject->size, 673);
  EXPECT_EQ(m.annotations.at("org.opencontainers.image.created"), "2024-05-01T10:00:00Z");
  EXPECT_EQ(m.layers.at(0).annotations.at("org.opencontainers.image.title"), "sbom.spdx.json");
  EXPECT_TRUE(m.subject->digest != m.config->digest);
  for (const auto& blob : m.blobReferences()) EXPECT_NE(blob.digest, d("img-amd64"));
  EXPECT_TRUE(m.manifestReferences().empty());
}

TEST(ManifestParse, ArtifactTypeFallsBackToConfigMediaType) {
  std::string helm = fill(R"({"schemaVersion": 2,
    "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": "<c>", "size": 1},
    "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                "digest": "<chart>", "size": 3}]})");
  Manifest m = parseManifest(helm, media::kOciManifest);
  EXPECT_EQ(m.mediaType, media::kOciManifest);  // mediaType may be absent from an OCI manifest
  EXPECT_EQ(m.artifactType, "application/vnd.cncf.helm.config.v1+json");
  EXPECT_EQ(parseManifest(helm).mediaType, media::kOciManifest);  // shape: config

  // An index is a referrer's artifact only by its own artifactType.
  std::string index =
      fill(R"({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "artifactType": "application/vnd.example.bundle", "manifests": [],
    "subject": {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "<s>", "size": 9}})");
  Manifest i = parseManifest(index);
  EXPECT_EQ(i.artifactType, "application/vnd.example.bundle");
  ASSERT_TRUE(i.subject);
  EXPECT_EQ(i.subject->digest, d("s"));
  EXPECT_TRUE(parseManifest(R"({"schemaVersion": 2, "manifests": []})").artifactType.empty());
}

TEST(ManifestParse, EmptyAndMissingLayers) {
  for (std::string_view layers : {R"(, "layers": [])", R"(, "layers": null)", ""}) {
    std::string json =
        fill(R"({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "artifactType": "application/vnd.example", "config": {"mediaType": "application/vnd.oci.empty.v1+json",
      "digest": "<e>", "size": 2})") +
        std::string(layers) + "}";
    Manifest m = parseManifest(json, media::kOciManifest);
    EXPECT_TRUE(m.layers.empty()) << json;
    EXPECT_EQ(m.blobReferences().size(), 1u);
  }
}

TEST(ManifestParse, DockerTypesIgnoreOciOnlyFields) {
  // distribution's Docker types have no subject or annotations; they must not become referrers.
  std::string json = kDockerImage;
  json.insert(json.rfind('}'), fill(R"(, "subject": {"mediaType": "x", "digest": "<s>", "size": 1},
                                     "annotations": {"a": "b"}, "artifactType": "t")"));
  Manifest m = parseManifest(json, media::kDockerManifest);
  EXPECT_FALSE(m.subject);
  EXPECT_TRUE(m.annotations.empty());
  EXPECT_EQ(m.artifactType, "application/vnd.docker.container.image.v1+json");
}

TEST(ManifestParse, WindowsForeignLayers) {
  std::string json = fill(R"({"schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": "<c>"},
    "layers": [
      {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "size": 1,
       "digest": "<servercore>", "urls": ["https://mcr.microsoft.com/v2/windows/servercore/blobs/x"]},
      {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1, "digest": "<app>"}
    ]})");
  Manifest m = parseManifest(json, media::kDockerManifest);
  EXPECT_EQ(m.layers[0].urls.size(), 1u);
  EXPECT_EQ(m.blobReferences().size(), 3u);  // GC keeps a foreign layer pushed anyway
  auto required = m.requiredBlobs();
  ASSERT_EQ(required.size(), 2u);
  EXPECT_EQ(required[0].digest, d("c"));
  EXPECT_EQ(required[1].digest, d("app"));

  std::string noUrls = std::regex_replace(json, std::regex(R"(, "urls": \[[^\]]*\])"), "");
  expectRefused(noUrls, media::kDockerManifest, ErrorKind::kManifestInvalid,
                "foreign layer without urls");
}

TEST(ManifestParse, OciNonDistributableLayers) {
  std::string json =
      fill(R"({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 1, "digest": "<c>"},
    "layers": [
      {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "size": 1,
       "digest": "<nd-url>", "urls": ["https://example.com/layer"]},
      {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "size": 1,
       "digest": "<nd-local>"},
      {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 1,
       "digest": "<normal-url>", "urls": ["https://example.com/layer2"]}
    ]})");
  auto required = parseManifest(json).requiredBlobs();
  ASSERT_EQ(required.size(), 3u);
  EXPECT_EQ(required[0].digest, d("c"));
  EXPECT_EQ(required[1].digest, d("nd-local"));
  EXPECT_EQ(required[2].digest, d("normal-url"));  // distribution checks ordinary layers anyway
}

TEST(ManifestReferences, SharedBlobsAreListedOnce) {
  std::string json =
      fill(R"({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 1, "digest": "<x>"},
    "layers": [
      {"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": 1, "digest": "<x>"},
      {"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": 1, "digest": "<y>"},
      {"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": 1, "digest": "<y>"}]})");
  Manifest m = parseManifest(json);
  EXPECT_EQ(m.layers.size(), 3u);
  auto blobs = m.blobReferences();
  ASSERT_EQ(blobs.size(), 2u);
  EXPECT_EQ(blobs[0].digest, d("x"));
  EXPECT_EQ(blobs[1].digest, d("y"));
}

TEST(ManifestParse, ContentTypeMustAgreeWithMediaType) {
  expectRefused(kDockerImage, media::kOciManifest, ErrorKind::kManifestInvalid,
                "should be 'application/vnd.oci.image.manifest.v1+json'");
  expectRefused(kDockerImage, media::kDockerManifestList, ErrorKind::kManifestInvalid,
                "mediaType in manifest should be");
  expectRefused(kBuildxIndex, media::kOciManifest, ErrorKind::kManifestInvalid, "should be");
  // Docker types need the field; OCI types may omit it (see ArtifactTypeFallsBackToConfig...).
  std::string noMediaType = std::regex_replace(
      kDockerImage,
      std::regex(R"("mediaType": "application/vnd.docker.distribution.manifest.v2\+json",)"), "");
  expectRefused(noMediaType, media::kDockerManifest, ErrorKind::kManifestInvalid,
                "mediaType is required");
  // The shape must fit the type, whichever way the type was decided.
  expectRefused(fill(R"({"schemaVersion": 2, "manifests": [],
      "config": {"mediaType": "a", "digest": "<c>", "size": 1}})"),
                media::kOciIndex, ErrorKind::kManifestInvalid, "must not have \"config\"");
  expectRefused(fill(R"({"schemaVersion": 2, "manifests": [],
      "config": {"mediaType": "a", "digest": "<c>", "size": 1}})"),
                media::kOciManifest, ErrorKind::kManifestInvalid, "must not have \"manifests\"");
  expectRefused(fill(R"({"schemaVersion": 2, "manifests": [], "layers": []})"), "",
                ErrorKind::kManifestInvalid, "both");
  expectRefused(R"({"schemaVersion": 2})", "", ErrorKind::kManifestInvalid, "cannot tell");
  expectRefused(
      R"({"schemaVersion": 2, "mediaType": "application/vnd.oci.artifact.manifest.v1+json",
                   "blobs": []})",
      "application/vnd.oci.artifact.manifest.v1+json", ErrorKind::kManifestInvalid,
      "unsupported manifest mediaType");
}

TEST(ManifestParse, RefusesSchema1OnPush) {
  expectRefused(kSchema1, "", ErrorKind::kManifestInvalid, "schema 1");
  expectRefused(kSchema1, media::kDockerSchema1Signed, ErrorKind::kManifestInvalid, "schema 1");
  expectRefused(kDockerImage, media::kDockerSchema1, ErrorKind::kManifestInvalid, "schema 1");
  expectRefused(kSchema1, media::kDockerManifest, ErrorKind::kManifestInvalid, "schema 1");
}

TEST(ManifestStored, ReadsSchema1ForGarbageCollection) {
  Manifest m = parseStoredManifest(kSchema1);
  EXPECT_EQ(m.mediaType, media::kDockerSchema1Signed);
  EXPECT_EQ(m.kind, ManifestKind::kImage);
  EXPECT_FALSE(m.config);
  ASSERT_EQ(m.layers.size(), 4u);
  EXPECT_EQ(m.layers[0].digest, d("empty"));  // base first
  EXPECT_EQ(m.layers[1].digest, d("bottom"));
  EXPECT_EQ(m.layers[3].digest, d("top"));
  EXPECT_EQ(m.layers[0].size, -1);
  auto blobs = m.blobReferences();
  ASSERT_EQ(blobs.size(), 3u);
  EXPECT_EQ(m.requiredBlobs().size(), 3u);

  std::string unsigned1 = fill(R"({"schemaVersion": 1, "fsLayers": [{"blobSum": "<a>"}]})");
  EXPECT_EQ(parseStoredManifest(unsigned1).mediaType, media::kDockerSchema1);
  try {
    parseStoredManifest(R"({"schemaVersion": 1, "fsLayers": [{"blobSum": "sha256:00"}]})");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDigestInvalid);
  }
}

TEST(ManifestStored, DetectsTypeLikeDistribution) {
  EXPECT_EQ(parseStoredManifest(kDockerImage).mediaType, media::kDockerManifest);
  EXPECT_EQ(parseStoredManifest(kDockerList).mediaType, media::kDockerManifestList);
  EXPECT_EQ(parseStoredManifest(kArtifact).mediaType, media::kOciManifest);
  EXPECT_EQ(parseStoredManifest(fill(R"({"schemaVersion": 2, "manifests": []})")).kind,
            ManifestKind::kIndex);
  EXPECT_EQ(parseStoredManifest(fill(R"({"schemaVersion": 2,
      "config": {"mediaType": "a", "digest": "<c>", "size": 1}})"))
                .mediaType,
            media::kOciManifest);
  EXPECT_THROW(parseStoredManifest(R"({"schemaVersion": 2, "mediaType": "text/plain"})"), Error);
  EXPECT_THROW(parseStoredManifest("[]"), Error);
}

TEST(ManifestInvalid, NotJsonOrNotAnObject) {
  for (std::string_view bad : {"", "not json", "{", "[]", "2", "\"manifest\"", "null",
                               R"({"schemaVersion": 2} trailing)", R"({"a": NaN})"}) {
    expectRefused(std::string(bad), "", ErrorKind::kManifestInvalid, "invalid manifest");
  }
  expectRefused("\xEF\xBB\xBF{\"schemaVersion\": 2}", "", ErrorKind::kManifestInvalid, "not JSON");
  // Not UTF-8: read as Go reads it (U+FFFD), which is no media type regfs knows.
  expectRefused("{\"schemaVersion\": 2, \"mediaType\": \"\xC3\x28\"}", "",
                ErrorKind::kManifestInvalid, "unsupported manifest mediaType '\xEF\xBF\xBD('");
}

TEST(ManifestInvalid, SchemaVersion) {
  auto with = [](std::string_view version) {
    return std::regex_replace(kDockerImage, std::regex(R"("schemaVersion": 2)"),
                              "\"schemaVersion\": " + std::string(version));
  };
  expectRefused(with("3"), "", ErrorKind::kManifestInvalid, "schemaVersion 3 is not supported");
  expectRefused(with("0"), "", ErrorKind::kManifestInvalid, "schemaVersion 0");
  expectRefused(with("\"2\""), "", ErrorKind::kManifestInvalid, "schemaVersion must be an integer");
  expectRefused(with("2.0"), "", ErrorKind::kManifestInvalid, "schemaVersion must be an integer");
  expectRefused(with("null"), "", ErrorKind::kManifestInvalid, "schemaVersion is required");
  expectRefused(with("99999999999999999999"), "", ErrorKind::kManifestInvalid, "schemaVersion");
  std::string none = std::regex_replace(kDockerImage, std::regex(R"("schemaVersion": 2,)"), "");
  expectRefused(none, "", ErrorKind::kManifestInvalid, "schemaVersion is required");
}

TEST(ManifestInvalid, Digests) {
  for (std::string_view digest :
       {"", "sha256:", "sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha256:../../../../../../etc/passwd000000000000000000000000000000000000000"}) {
    std::string json =
        std::regex_replace(kDockerImage, std::regex(d("app").str()), std::string(digest));
    expectRefused(json, media::kDockerManifest, ErrorKind::kDigestInvalid, "layers[1].digest");
  }
  std::string json =
      std::regex_replace(kDockerImage, std::regex("\"" + d("config").str() + "\""), "42");
  expectRefused(json, "", ErrorKind::kManifestInvalid, "config.digest must be a string");
  std::string child =
      std::regex_replace(kBuildxIndex, std::regex(d("att-arm64").str()), "sha256:1");
  expectRefused(child, "", ErrorKind::kDigestInvalid, "manifests[3].digest");
}

TEST(ManifestInvalid, MissingOrMistypedFields) {
  auto replace = [](const std::string& from, const std::string& to) {
    std::string json = kDockerImage;
    size_t at = json.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return json.replace(at, from.size(), to);
  };
  std::string noConfig =
      std::regex_replace(kDockerImage, std::regex(R"("config": \{[^}]*\},)"), "");
  ASSERT_EQ(noConfig.find("config\""), std::string::npos);
  expectRefused(noConfig, "", ErrorKind::kManifestInvalid, "config is required");
  EXPECT_EQ(parseManifest(replace("\"size\": 1472", "\"size\": -1")).config->size, -1)
      << "stored as pushed, as distribution does";
  expectRefused(replace("\"size\": 32", "\"size\": 9223372036854775808"), "",
                ErrorKind::kManifestInvalid, "layers[1].size must be an integer");
  expectRefused(replace("\"size\": 32", "\"size\": 1e400"), "", ErrorKind::kManifestInvalid,
                "not JSON");
  expectRefused(replace("\"size\": 32", "\"size\": 1e3"), "", ErrorKind::kManifestInvalid,
                "layers[1].size must be an integer");
  expectRefused(replace("\"size\": 32", "\"size\": \"32\""), "", ErrorKind::kManifestInvalid,
                "layers[1].size");
  expectRefused(replace("\"size\": 32,", ""), "", ErrorKind::kManifestInvalid,
                "layers[1].size is required");
  EXPECT_EQ(parseManifest(replace("\"size\": 32", "\"size\": 9223372036854775807")).layers[1].size,
            INT64_MAX);
  expectRefused(replace(R"("mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 32)",
                        R"("size": 32)"),
                "", ErrorKind::kManifestInvalid, "layers[1].mediaType is required");
  expectRefused(
      std::regex_replace(kDockerImage, std::regex(R"("layers": \[)"), R"("layers": 5, "x": [)"), "",
      ErrorKind::kManifestInvalid, "layers must be an array");
  expectRefused(replace("\"layers\": [", "\"layers\": [7, "), "", ErrorKind::kManifestInvalid,
                "layers[0]: expected a JSON object");
  std::string oci = kArtifact;
  expectRefused(std::regex_replace(oci, std::regex(R"("sbom.spdx.json")"), "[]"), "",
                ErrorKind::kManifestInvalid, "must be a string");
  expectRefused(std::regex_replace(oci, std::regex(R"("data": "e30=")"), R"("data": 1)"), "",
                ErrorKind::kManifestInvalid, "config.data must be a string");
  expectRefused(
      std::regex_replace(kDockerList, std::regex(R"("variant": "v7")"), R"("variant": 7)"), "",
      ErrorKind::kManifestInvalid, "manifests[2].platform.variant must be a string");
  expectRefused(std::regex_replace(kDockerList, std::regex(R"(\["win32k"\])"), R"([1])"), "",
                ErrorKind::kManifestInvalid, "os.features must hold strings");
}

// Keys are found as Go's encoding/json finds them, so that regfs reads from the same bytes
// the manifest distribution and the clients read: folded case, the last duplicate, a null
// that empties a list but leaves a string.
TEST(ManifestGoReading, RepeatedAndCasedKeysReadAsInGo) {
  std::string twice = kDockerImage;
  twice.insert(twice.rfind('}'), R"(, "layers": [])");
  EXPECT_TRUE(parseManifest(twice).layers.empty()) << "the second \"layers\" counts";
  std::string cased = std::regex_replace(kDockerImage, std::regex(R"("layers")"), R"("Layers")");
  EXPECT_EQ(parseManifest(cased).layers.size(), parseManifest(kDockerImage).layers.size());
  for (std::string_view spelling : {"\xC5\xBFize", "SIZE"}) {  // U+017F folds to 's' in Go
    std::string json = std::regex_replace(kDockerImage, std::regex(R"("size": 32)"),
                                          R"("size": 32, ")" + std::string(spelling) + R"(": 7)");
    EXPECT_EQ(parseManifest(json).layers[1].size, 7) << spelling;
  }
  std::string kelvin = std::regex_replace(kDockerImage, std::regex(R"("size": 32)"),
                                          "\"size\": 32, \"annotations\": {}, \"\xE2\x84\xAA"
                                          "ey\": 1");
  EXPECT_NO_THROW(parseManifest(kelvin));  // folds to "key", which nothing reads
  // The digest Go reads is the last one in any case: an earlier "Digest" is overridden, a
  // later one (here not a digest at all) counts.
  std::string before =
      std::regex_replace(kDockerImage, std::regex(R"("size": 32)"), R"("Digest": "x", "size": 32)");
  EXPECT_EQ(parseManifest(before).layers[1].digest, parseManifest(kDockerImage).layers[1].digest);
  std::string after = std::regex_replace(
      kDockerImage, std::regex(R"(("digest": "[^"]*")(\s*\}\s*\]))"), R"($1, "Digest": "x"$2)");
  ASSERT_NE(after, kDockerImage);
  expectRefused(after, "", ErrorKind::kDigestInvalid, "layers[1].digest");
  std::string annotation = std::regex_replace(
      kArtifact, std::regex(R"("org.opencontainers.image.created")"), R"("k": "1", "k")");
  EXPECT_EQ(parseManifest(annotation).annotations.at("k"), "2024-05-01T10:00:00Z");
  // null: a list goes, a string stays.
  std::string nullLayers = kDockerImage;
  nullLayers.insert(nullLayers.rfind('}'), R"(, "layers": null)");
  EXPECT_TRUE(parseManifest(nullLayers).layers.empty());
  std::string nullType = std::regex_replace(kDockerImage, std::regex(R"("size": 32)"),
                                            R"("size": 32, "mediaType": null)");
  EXPECT_EQ(parseManifest(nullType).layers[1].mediaType,
            parseManifest(kDockerImage).layers[1].mediaType);
  // Unknown keys, in any spelling, are ignored.
  std::string unknown = kDockerImage;
  unknown.insert(unknown.rfind('}'), R"(, "x-extra": {"deep": [1, 2, {"a": null}]}, "X-EXTRA": 1)");
  EXPECT_NO_THROW(parseManifest(unknown));
}

TEST(ManifestGoReading, TextThatIsNotUtf8ReadsAsReplacementCharacters) {
  auto withAnnotation = [](const std::string& value) {
    return std::regex_replace(kArtifact, std::regex(R"("org.opencontainers.image.created")"),
                              "\"bad\": \"" + value + "\", \"org.opencontainers.image.created\"");
  };
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(parseManifest(withAnnotation("a\xff\xfe")).annotations.at("bad"), "a" + fffd + fffd);
  // An overlong form and a UTF-8-encoded surrogate are not UTF-8 either: one U+FFFD a byte.
  EXPECT_EQ(parseManifest(withAnnotation("\xC0\xAF")).annotations.at("bad"), fffd + fffd);
  EXPECT_EQ(parseManifest(withAnnotation("\xED\xA0\x80")).annotations.at("bad"),
            fffd + fffd + fffd);
  EXPECT_EQ(parseManifest(withAnnotation("ok \xE2\x82\xAC")).annotations.at("bad"),
            "ok \xE2\x82\xAC");
  // Lone surrogate escapes are U+FFFD; a pair is its character.
  EXPECT_EQ(parseManifest(withAnnotation("\\ud800")).annotations.at("bad"), fffd);
  EXPECT_EQ(parseManifest(withAnnotation("\\uDC00x\\ud800")).annotations.at("bad"),
            fffd + "x" + fffd);
  EXPECT_EQ(parseManifest(withAnnotation("\\ud83d\\ude00")).annotations.at("bad"),
            "\xF0\x9F\x98\x80");
  EXPECT_EQ(parseManifest(withAnnotation("\\\\ud800")).annotations.at("bad"), "\\ud800")
      << "an escaped backslash, then text";
  // What is still not JSON stays refused.
  expectRefused(withAnnotation("\\ud8"), "", ErrorKind::kManifestInvalid, "not JSON");
}

TEST(ManifestInvalid, DeepNestingDoesNotExhaustTheStack) {
  const size_t depth = 1'000'000;
  std::string deep =
      R"({"schemaVersion": 2, "x": )" + std::string(depth, '[') + std::string(depth, ']') + "}";
  expectRefused(deep, "", ErrorKind::kManifestInvalid, "cannot tell");  // parsed, then judged
  std::string unclosed = std::string(depth, '[');
  expectRefused(unclosed, "", ErrorKind::kManifestInvalid, "not JSON");
  std::string objects;
  for (size_t i = 0; i < 200'000; ++i) objects += R"({"a":)";
  expectRefused(objects, "", ErrorKind::kManifestInvalid, "not JSON");
  EXPECT_THROW(parseStoredManifest(unclosed), Error);
}

TEST(ManifestInvalid, SizeLimit) {
  std::string big = kDockerImage;
  big.insert(big.rfind('}'), ", \"pad\": \"" + std::string(kMaxManifestBytes, 'x') + "\"");
  expectRefused(big, "", ErrorKind::kManifestInvalid, "over the limit");
  EXPECT_NO_THROW(parseStoredManifest(big));  // stores written elsewhere may hold more
}

TEST(ManifestAccept, NegotiatesLikeDistribution) {
  const std::vector<std::string> docker = {
      "application/vnd.docker.distribution.manifest.v2+json",
      "application/vnd.docker.distribution.manifest.list.v2+json"};
  const std::vector<std::string> all = {
      "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json;q=0.9,"
      "application/vnd.docker.distribution.manifest.v2+json , */*"};
  const std::vector<std::string> none, star = {"*/*"};

  auto unknown = [](std::string_view stored, const std::vector<std::string>& accept) {
    try {
      negotiateManifest(stored, false, accept);
      return false;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kManifestUnknown);
      return true;
    }
  };
  EXPECT_TRUE(unknown(media::kOciManifest, none));
  EXPECT_TRUE(unknown(media::kOciManifest, star));
  EXPECT_TRUE(unknown(media::kOciManifest, docker));
  EXPECT_TRUE(unknown(media::kOciIndex, {"application/vnd.oci.image.manifest.v1+json"}));
  EXPECT_FALSE(unknown(media::kOciManifest, all));
  EXPECT_FALSE(unknown(media::kOciIndex, all));
  EXPECT_FALSE(unknown(media::kOciIndex, {"text/html", "Application/VND.OCI.Image.Index.v1+JSON"}));

  // Docker types are served as stored, whatever the client says...
  for (const auto* accept : {&none, &star, &docker, &all}) {
    EXPECT_EQ(negotiateManifest(media::kDockerManifest, true, *accept), ManifestToServe::kStored);
    EXPECT_EQ(negotiateManifest(media::kDockerManifestList, false, *accept),
              ManifestToServe::kStored);
    EXPECT_EQ(negotiateManifest(media::kDockerSchema1Signed, true, *accept),
              ManifestToServe::kStored);
  }
  // ...except a list asked for by tag by a client that does not know lists.
  EXPECT_EQ(negotiateManifest(media::kDockerManifestList, true, none),
            ManifestToServe::kDefaultPlatformChild);
  EXPECT_EQ(negotiateManifest(media::kDockerManifestList, true, star),
            ManifestToServe::kDefaultPlatformChild);
  EXPECT_EQ(negotiateManifest(media::kDockerManifestList, true, docker), ManifestToServe::kStored);

  Manifest noAmd64 = parseManifest(
      std::regex_replace(kDockerList, std::regex(R"("architecture": "amd64", "os": "linux")"),
                         R"("architecture": "riscv64", "os": "linux")"));
  EXPECT_THROW(defaultPlatformChild(noAmd64), Error);
}

TEST(ManifestAccept, BareMediaType) {
  EXPECT_EQ(bareMediaType(" Application/JSON ; charset=utf-8"), "application/json");
  EXPECT_EQ(bareMediaType(""), "");
  EXPECT_EQ(bareMediaType(" ; q=1"), "");
  EXPECT_TRUE(isManifestMediaType(media::kOciIndex));
  EXPECT_TRUE(isManifestMediaType(media::kDockerManifestList));
  EXPECT_FALSE(isManifestMediaType(media::kDockerSchema1Signed));
  EXPECT_FALSE(isManifestMediaType("application/json"));
}

TEST(ManifestLayerFileExtension, FromMediaType) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"application/vnd.docker.image.rootfs.diff.tar.gzip", ".tar.gz"},
      {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", ".tar.gz"},
      {"application/vnd.oci.image.layer.v1.tar+gzip", ".tar.gz"},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", ".tar.gz"},
      {"application/vnd.cncf.helm.chart.content.v1.tar+gzip", ".tar.gz"},
      {"application/vnd.oci.image.layer.v1.tar", ".tar"},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar", ".tar"},
      {"application/vnd.oci.image.layer.v1.tar+zstd", ".tar.zst"},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", ".tar.zst"},
      {"application/vnd.docker.container.image.v1+json", ".json"},
      {"application/vnd.oci.image.config.v1+json", ".json"},
      {"application/vnd.oci.empty.v1+json", ".json"},
      {"application/vnd.in-toto+json", ".json"},
      {"application/json", ".json"},
      {"application/vnd.example+gzip", ".gz"},
      {"application/zstd", ".zst"},
      {"text/plain; charset=utf-8", ".txt"},
      {"application/vnd.oci.image.layer.v1.tar+gzip+encrypted", ".bin"},
      {"application/vnd.wasm.content.layer.v1+wasm", ".bin"},
      {"application/octet-stream", ".bin"},
      {"", ".bin"},
      {"../../etc", ".bin"},
  };
  for (const auto& [type, ext] : cases) EXPECT_EQ(layerFileExtension(type), ext) << type;
}

TEST(PlatformName, ReadableAndSafe) {
  EXPECT_EQ(platformName({"linux", "amd64"}), "linux-amd64");
  EXPECT_EQ(platformName({"linux", "arm", "v7"}), "linux-arm-v7");
  EXPECT_EQ(platformName({"windows", "amd64", "", "10.0.17763.1234"}),
            "windows-amd64-10.0.17763.1234");
  EXPECT_EQ(platformName({"", ""}), "unknown-unknown");
  EXPECT_EQ(platformName({"..", "/"}), "..-_");
  EXPECT_EQ(platformName({"linux", "amd64/../x", "v\n1"}), "linux-amd64_.._x-v_1");
  std::string name = platformName({std::string(1000, 'a'),
                                   "amd64",
                                   std::string(300, 'v'),
                                   std::string(300, '1'),
                                   {std::string(100, 'f')}});
  EXPECT_LE(name.size(), 255u);
  EXPECT_EQ(name.find('/'), std::string::npos);
}

TEST(PlatformEntryNames, UniqueAndStable) {
  auto child = [](std::string_view name, std::optional<Platform> platform) {
    Descriptor desc{std::string(media::kOciManifest), d(name), 1};
    desc.platform = std::move(platform);
    return desc;
  };
  std::vector<Descriptor> children = {child("a", Platform{"linux", "amd64"}),
                                      child("b", Platform{"linux", "amd64"}),
                                      child("c", std::nullopt), child("c", std::nullopt),
                                      child("e", Platform{"unknown", "unknown"})};
  // A Docker attestation whose subject is missing keeps its plain platform name.
  children[4].annotations = {{"vnd.docker.reference.type", "attestation-manifest"},
                             {"vnd.docker.reference.digest", d("zzz").str()}};
  auto names = platformEntryNames(children);
  std::string a = d("a").hex().substr(0, 12), b = d("b").hex().substr(0, 12),
              c = d("c").hex().substr(0, 12);
  EXPECT_EQ(names, (std::vector<std::string>{"linux-amd64-" + a, "linux-amd64-" + b, "unknown-" + c,
                                             "unknown-" + c + "-2", "unknown-unknown"}));
  EXPECT_EQ(platformEntryNames(children), names);
  EXPECT_TRUE(platformEntryNames({}).empty());
}

TEST(ManifestReferrers, DescriptorAndIndexJson) {
  Manifest artifact = parseManifest(kArtifact);
  Digest digest = Digest::of(kArtifact);
  Descriptor r = referrerDescriptor(artifact, digest, static_cast<int64_t>(kArtifact.size()));
  EXPECT_EQ(r.mediaType, media::kOciManifest);
  EXPECT_EQ(r.digest, digest);
  EXPECT_EQ(r.artifactType, "application/vnd.example.sbom.v1");
  EXPECT_EQ(r.annotations, artifact.annotations);

  Manifest signature = parseManifest(fill(R"({"schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.dev.cosign.artifact.sig.v1+json", "digest": "<c>", "size": 2},
    "layers": [], "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "<img-amd64>", "size": 673}})"));
  Descriptor s = referrerDescriptor(signature, d("sig"), 300);
  EXPECT_EQ(s.artifactType, "application/vnd.dev.cosign.artifact.sig.v1+json");

  std::string json = referrersIndexJson({r, s});
  Manifest index = parseManifest(json, media::kOciIndex);  // the response is itself an OCI index
  EXPECT_EQ(index.mediaType, media::kOciIndex);
  ASSERT_EQ(index.manifests.size(), 2u);
  EXPECT_EQ(index.manifests[0].digest, digest);
  EXPECT_EQ(index.manifests[0].size, static_cast<int64_t>(kArtifact.size()));
  EXPECT_EQ(index.manifests[0].artifactType, "application/vnd.example.sbom.v1");
  EXPECT_EQ(index.manifests[0].annotations.at("org.opencontainers.image.created"),
            "2024-05-01T10:00:00Z");
  EXPECT_EQ(index.manifests[1].digest, d("sig"));
  EXPECT_TRUE(index.manifests[1].annotations.empty());
  EXPECT_EQ(json.find("\"platform\""), std::string::npos);
  EXPECT_EQ(json.find("\"annotations\"", json.find(d("sig").str())), std::string::npos);

  EXPECT_EQ(
      referrersIndexJson({}),
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]})");

  // Strings that need escaping survive the round trip.
  Descriptor odd{"application/x", d("odd"), 0};
  odd.annotations = {{"quote\"back\\slash", std::string("nul\0tab\t\xC3\xA9", 10)}};
  Manifest back = parseManifest(referrersIndexJson({odd}));
  EXPECT_EQ(back.manifests.at(0).annotations, odd.annotations);
}

TEST(ManifestReferrers, IndexJsonCarriesPlatformsAndUrls) {
  Manifest list = parseManifest(kDockerList);
  Manifest back = parseManifest(referrersIndexJson(list.manifests));
  ASSERT_EQ(back.manifests.size(), list.manifests.size());
  for (size_t i = 0; i < list.manifests.size(); ++i) {
    EXPECT_EQ(back.manifests[i].digest, list.manifests[i].digest);
    ASSERT_TRUE(back.manifests[i].platform);
    EXPECT_EQ(platformName(*back.manifests[i].platform), platformName(*list.manifests[i].platform));
  }
}

// Inputs the fuzz targets (tests/fuzz) found, kept as regressions.

TEST(ManifestFuzzRegression, PushedIndexReadsBackAsAnIndex) {
  // Without mediaType and "manifests", a push as OCI index was accepted as an empty index, but
  // the store reads such bytes back as an image manifest (as distribution does), which fails for
  // want of a config: GET, the view and garbage collection could not read what was accepted.
  for (std::string_view json :
       {R"({"schemaVersion": 2})", R"({"schemaVersion": 2, "manifests": null})",
        R"({"schemaVersion": 2, "0anifests": []})"}) {
    expectRefused(std::string(json), media::kOciIndex, ErrorKind::kManifestInvalid,
                  "must have \"manifests\"");
  }
  // With "manifests" (even empty) or a mediaType, both readings agree.
  for (std::string_view json :
       {R"({"schemaVersion": 2, "manifests": []})",
        R"({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"})"}) {
    Manifest pushed = parseManifest(json, media::kOciIndex);
    Manifest stored = parseStoredManifest(json);
    EXPECT_EQ(pushed.mediaType, stored.mediaType) << json;
    EXPECT_EQ(stored.kind, ManifestKind::kIndex) << json;
  }
}

TEST(ManifestFuzzRegression, MessagesQuoteAtMostAShortExcerpt) {
  // Error messages echoed whole strings from the manifest (megabytes in a 4 MiB manifest) into
  // the error response and the logs. Now at most 200 bytes, cut between UTF-8 characters.
  std::string longType = "application/vnd.oci" + std::string(3000, '[') + "\xC3\xA9";
  std::string longKey = std::string(199, 'k') + "\xC3\xA9" + std::string(3000, 'k');
  for (const std::string& json :
       {R"({"schemaVersion": 2, "mediaType": ")" + longType + R"(", "manifests": []})",
        R"({"schemaVersion": 2, "manifests": [], "annotations": {")" + longKey + R"(": 1}})"}) {
    for (auto parse : {+[](const std::string& b) { parseManifest(b); },
                       +[](const std::string& b) { parseManifest(b, media::kOciIndex); },
                       +[](const std::string& b) { parseStoredManifest(b); }}) {
      try {
        parse(json);
        ADD_FAILURE() << "accepted";
      } catch (const Error& e) {
        std::string message = e.what();
        EXPECT_EQ(e.kind(), ErrorKind::kManifestInvalid) << message.substr(0, 300);
        EXPECT_LT(message.size(), 400u) << message.substr(0, 300);
        EXPECT_NE(message.find("..."), std::string::npos) << message.substr(0, 300);
        // The cut falls before the two-byte character, not inside it.
        EXPECT_EQ(message.find("\xC3."), std::string::npos) << message.substr(0, 300);
      }
    }
  }
}

TEST(ManifestPartsTest, StrictWhereItCanLenientWhereItMust) {
  std::string docker =
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
      "\"config\":" +
      descriptor("application/vnd.docker.container.image.v1+json", Digest::of("c").str(), 1) +
      ",\"layers\":[" +
      descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", Digest::of("l").str(), 1) +
      "]}";
  ManifestParts parts = describeManifest(docker);
  EXPECT_EQ(parts.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
  ASSERT_TRUE(parts.config);
  EXPECT_EQ(parts.config->digest, Digest::of("c"));
  ASSERT_EQ(parts.blobs.size(), 1u);
  EXPECT_EQ(parts.blobs[0].digest, Digest::of("l"));
  ManifestParts lenient =
      describeManifest("{\"layers\":[{\"digest\":\"" + Digest::of("x").str() + "\"}]}");
  ASSERT_EQ(lenient.blobs.size(), 1u);
  EXPECT_FALSE(lenient.config);
  ManifestParts none = describeManifest("[1,2]");
  EXPECT_TRUE(none.blobs.empty());
  EXPECT_TRUE(none.mediaType.empty());
}

TEST(ManifestPartsTest, DeepNestingDoesNotExhaustTheStack) {
  // Not a manifest, so the lenient reading parses it too: without recursion per level.
  std::string deep =
      "{\"layers\":" + std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}";
  ManifestParts parts = describeManifest(deep);
  EXPECT_TRUE(parts.blobs.empty());
  EXPECT_TRUE(describeManifest(std::string(1'000'000, '[')).mediaType.empty());
}

}  // namespace
}  // namespace regfs
