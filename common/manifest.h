#pragma once
// The manifest model: what a pushed or stored manifest says, as the API (validation on PUT,
// content negotiation, MANIFEST_BLOB_UNKNOWN, referrers), the view (config, layers, platforms)
// and garbage collection (what a manifest keeps alive) need it.
//
// Supported: Docker image manifest v2 schema 2, Docker manifest list, OCI image manifest
// (images and artifacts, OCI 1.1 `artifactType` and `subject`), OCI image index. Docker
// schema 1 is refused on push, as distribution does by default (2.8 answers MANIFEST_INVALID
// "manifest type unsupported" unless compatibility.schema1.enabled; 3.x dropped it), but a
// schema 1 manifest already in a store written by an old registry still parses through
// parseStoredManifest(), so garbage collection keeps its layers.
//
// The model never re-serialises a manifest: the bytes a client pushed are the bytes stored and
// served, and their digest is the manifest's identity.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/error.h"

namespace regfs {

namespace media {
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerSchema1 =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
inline constexpr std::string_view kDockerSchema1Layer =
    "application/vnd.docker.container.image.rootfs.diff+x-gtar";
inline constexpr std::string_view kDockerForeignLayer =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
}  // namespace media

// A manifest larger than this is refused on push, as distribution does.
inline constexpr size_t kMaxManifestBytes = 4 * 1024 * 1024;

struct Platform {
  std::string os;                       // "linux"
  std::string architecture;             // "amd64"
  std::string variant;                  // "v7", or empty
  std::string osVersion;                // JSON "os.version", e.g. "10.0.17763.1234", or empty
  std::vector<std::string> osFeatures;  // JSON "os.features"
};

struct Descriptor {
  std::string mediaType;
  Digest digest;
  int64_t size = 0;          // as pushed (negative too, as distribution keeps it); -1 for the
                             // layers of a Docker schema 1 manifest
  std::string artifactType;  // empty when absent
  std::optional<Platform> platform;
  std::vector<std::string> urls;  // where clients may fetch the content instead (foreign layers)
  std::map<std::string, std::string> annotations;
};

enum class ManifestKind {
  kImage,  // Docker schema 2 (or legacy schema 1) image manifest, or OCI image manifest
  kIndex,  // Docker manifest list, or OCI image index
};

struct Manifest {
  // The effective media type, one of media::kDockerManifest, kDockerManifestList, kOciManifest,
  // kOciIndex (or a schema 1 type from parseStoredManifest): the Content-Type to serve it with.
  std::string mediaType;
  ManifestKind kind = ManifestKind::kImage;
  // As OCI 1.1 defines it for the referrers API: the manifest's `artifactType` field; for an
  // image manifest without one, config.mediaType; for an index without one, empty.
  std::string artifactType;
  std::optional<Descriptor> config;   // kImage; absent only for Docker schema 1
  std::vector<Descriptor> layers;     // kImage, base layer first (possibly empty for artifacts)
  std::vector<Descriptor> manifests;  // kIndex: the children
  std::optional<Descriptor> subject;  // OCI manifests and indexes only
  std::map<std::string, std::string> annotations;  // OCI manifests and indexes only

  // Config and layers, without repeated digests (first occurrence kept): the blobs this
  // manifest keeps alive. Empty for an index.
  std::vector<Descriptor> blobReferences() const;
  // The blobs a push must find linked in the repository (else MANIFEST_BLOB_UNKNOWN), as
  // distribution decides: blobReferences() minus content clients fetch elsewhere — a Docker
  // foreign layer, a Docker layer with urls, an OCI non-distributable layer with urls.
  // (Whether urls are allowed at all is the server's policy, not checked here.)
  std::vector<Descriptor> requiredBlobs() const;
  // The children of an index, which must be manifests of the same repository. Empty for an
  // image. The subject is not a reference: a referrer does not keep its subject alive.
  std::vector<Descriptor> manifestReferences() const;
};

// Parses a pushed manifest. `contentType` is the request's Content-Type (parameters and case
// ignored; may be empty). Distribution's rules:
//   - Content-Type is a manifest type: it decides the type; the JSON `mediaType` must equal it,
//     and must be present for the Docker types (OCI types may omit it).
//   - otherwise (absent, or another type — distribution would refuse; regfs is lenient): the
//     JSON `mediaType` decides, else the shape: `manifests` makes an OCI index, `config` an OCI
//     image manifest.
// Reads the JSON as Go's encoding/json does (distribution and the clients decode with it), so
// that everyone reads the same manifest from the same bytes: keys match in Go's folded case,
// the last of a repeated key counts, a null empties a list and leaves a string, text that is
// not UTF-8 and lone surrogate escapes read as U+FFFD.
// Validates: JSON of at most kMaxManifestBytes; schemaVersion 2; an image has a config and no
// `manifests`, an index no `config`/`layers`; every descriptor has a mediaType, a supported
// digest and a size that is an integer below 2^63 (negative ones are kept, as distribution
// keeps them); fields have their JSON types.
// Missing or null `layers`/`manifests` are empty, as distribution and OCI 1.1 artifacts allow.
// Throws Error(kDigestInvalid) naming the descriptor for a malformed or unsupported digest (as
// distribution answers DIGEST_INVALID), Error(kManifestInvalid) with a clear message for
// anything else, Docker schema 1 included.
Manifest parseManifest(std::string_view bytes, std::string_view contentType = {});

// Parses a manifest read from the store, written by regfs or by distribution: the type comes
// from the JSON `mediaType`, else from the shape, as distribution's manifest store decides
// (`manifests` present: index, else OCI image manifest). Accepts Docker schema 1 (mediaType
// media::kDockerSchema1Signed when it carries signatures, else kDockerSchema1; layers from
// fsLayers, base first, size -1; no config). No size limit; otherwise as parseManifest.
Manifest parseStoredManifest(std::string_view bytes);

// What a stored manifest lists, read as far as it can be, for showing whatever the store holds
// (the view): parseStoredManifest's reading where it succeeds; where it refuses the bytes (an
// artifact without a config, an old artifact manifest with "blobs", a type it does not know), a
// lenient reading that still finds every descriptor with a digest (its mediaType, and its
// platform's os, architecture and variant, when they are strings). Bytes that are not a JSON
// object list nothing.
struct ManifestParts {
  std::string mediaType;
  std::optional<Descriptor> config;
  std::vector<Descriptor> blobs;     // layers (or an artifact manifest's "blobs")
  std::vector<Descriptor> children;  // an index's manifests
};
ManifestParts describeManifest(std::string_view bytes);

// Whether an Error of `kind` from parseManifest or parseStoredManifest says the bytes are not
// a manifest regfs reads (kManifestInvalid, kDigestInvalid), rather than something else failing.
bool isManifestParseError(ErrorKind kind);

// Whether `mediaType` is one of the four manifest types regfs accepts on push. Exact match:
// strip a header value with bareMediaType() first.
bool isManifestMediaType(std::string_view mediaType);

// The media type of a Content-Type or Accept element: parameters dropped, blanks trimmed,
// lowercased ("Application/JSON; charset=utf-8" -> "application/json").
std::string bareMediaType(std::string_view headerValue);

// Content negotiation on manifest GET/HEAD, as distribution does it. `acceptHeaders` holds every
// Accept header value; each may list several comma-separated types; q-values are ignored and
// `*/*` does not count as accepting a manifest type.
//   - OCI manifest or index: served only to clients that name its type; otherwise throws
//     Error(kManifestUnknown, "OCI manifest found, but accept header does not support OCI
//     manifests") — absent Accept and `*/*` included, as distribution answers 404.
//   - Docker manifest list asked for by tag by a client that does not name the list type:
//     kDefaultPlatformChild (serve defaultPlatformChild() instead; distribution 2.8 went on to
//     rewrite a schema 2 child to schema 1, regfs serves the child as stored).
//   - anything else: kStored (Docker schema 2 is served as stored even to clients that do not
//     name it; distribution 2.8 rewrote it to schema 1 for them when asked by tag).
enum class ManifestToServe { kStored, kDefaultPlatformChild };
ManifestToServe negotiateManifest(std::string_view storedMediaType, bool requestedByTag,
                                  const std::vector<std::string>& acceptHeaders);

// The first linux/amd64 child of a manifest list (distribution's default platform). Throws
// Error(kManifestUnknown) when there is none.
const Descriptor& defaultPlatformChild(const Manifest& index);

// The file extension for a blob in the view, from its media type: ".tar.gz" (Docker rootfs
// diff tar.gzip, foreign layers, OCI tar+gzip, any "*tar+gzip"), ".tar" (OCI tar), ".tar.zst"
// (tar+zstd), ".gz", ".zst", ".json" (any "+json" or "/json" type), ".txt" (text/plain), else
// ".bin". Non-distributable OCI layers follow their compression.
std::string layerFileExtension(std::string_view mediaType);

// A readable, file-system-safe name for a platform: os-architecture[-variant][-osVersion]
// followed by "+feature" per os.features, e.g. "linux-amd64", "linux-arm-v7",
// "windows-amd64-10.0.17763.1234". Empty os or architecture reads "unknown"; characters other
// than [A-Za-z0-9._+-] become '_'; each part is cut to 64 bytes and the name to 200. Never
// empty, "." or "..", and never contains '/'.
std::string platformName(const Platform& platform);

// Names for the children of an index, unique within it, in the children's order:
//   - platformName() of the child's platform, "unknown" when it has none;
//   - a Docker attestation manifest (annotation vnd.docker.reference.type =
//     "attestation-manifest") is named after the sibling it attests: "linux-amd64.attestation";
//   - names that would still collide all get "-" and the first 12 hex digits of their digest,
//     then "-2", "-3", ... in order for exact repeats.
// Stable: they depend only on the index bytes.
std::vector<std::string> platformEntryNames(const std::vector<Descriptor>& children);

// The descriptor of `manifest` (whose bytes have `digest` and `size`) in a referrers response:
// mediaType, digest, size, artifactType (see Manifest::artifactType), annotations.
Descriptor referrerDescriptor(const Manifest& manifest, const Digest& digest, int64_t size);

// The body of a referrers response: an OCI image index (schemaVersion 2, mediaType) listing
// `referrers` in order; `manifests` is [] when there are none. Empty optional fields are omitted.
std::string referrersIndexJson(const std::vector<Descriptor>& referrers);

}  // namespace regfs
