// GET /v2/<name>/_regfs/image/<reference>[?platform=os/arch[/variant]]: everything the web UI's
// image page shows in one answer: the manifest (raw too), the index it belongs to, the config,
// the layers, the history matched to them, the referrers and the tags (docs/api.md).
#include "api/registry/handlers.h"
#include "api/registry/json_body.h"
#include "common/browse/facts.h"
#include "common/browse/image_config.h"
#include "common/error.h"
#include "common/layers/platform.h"
#include "common/manifest.h"

namespace regfs::api {
namespace {

// A stored manifest as far as it reads (nullopt: bytes regfs cannot read as one).
std::optional<Manifest> readable(std::string_view bytes) {
  try {
    return parseStoredManifest(bytes);
  } catch (const Error& e) {
    if (!isManifestParseError(e.kind())) throw;
    return std::nullopt;
  }
}

void writeIndex(JsonWriter& w, const Digest& digest, const Manifest& index) {
  writeKey(w, "index");
  w.StartObject();
  writeString(w, "digest", digest.str());
  writeString(w, "mediaType", index.mediaType);
  writeKey(w, "platforms");
  w.StartArray();
  for (const Descriptor& child : index.manifests) {
    w.StartObject();
    writeString(w, "platform", child.platform ? layers::platformString(*child.platform) : "");
    writeString(w, "digest", child.digest.str());
    writeString(w, "mediaType", child.mediaType);
    writeKey(w, "size");
    w.Int64(child.size);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

// The image config a descriptor names, when it is one regfs can read.
std::optional<browse::ImageConfig> configOf(const Store& store, const Descriptor& config) {
  auto info = store.statBlob(config.digest);
  if (!info || info->size > browse::kMaxImageConfigBytes) return std::nullopt;
  try {
    return browse::parseImageConfig(store.readBlob(config.digest));
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kBlobUnknown) return std::nullopt;  // deleted meanwhile
    throw;
  }
}

void writeConfig(JsonWriter& w, const Digest& digest, const browse::ImageConfig& c) {
  writeKey(w, "config");
  w.StartObject();
  writeString(w, "digest", digest.str());
  writeOptionalString(w, "created", c.created);
  writeString(w, "architecture", c.architecture);
  writeString(w, "os", c.os);
  writeString(w, "variant", c.variant);
  writeString(w, "user", c.user);
  writeString(w, "workingDir", c.workingDir);
  writeStrings(w, "entrypoint", c.entrypoint);
  writeStrings(w, "cmd", c.cmd);
  writeStrings(w, "env", c.env);
  writeStrings(w, "exposedPorts", c.exposedPorts);
  writeStringMap(w, "labels", c.labels);
  writeStrings(w, "volumes", c.volumes);
  w.EndObject();
}

// The layers, then the history with each entry that made a layer matched to it in order.
void writeLayersAndHistory(JsonWriter& w, const std::vector<Descriptor>& layers,
                           const std::vector<browse::HistoryEntry>& history) {
  writeKey(w, "layers");
  w.StartArray();
  for (size_t i = 0; i < layers.size(); ++i) {
    w.StartObject();
    writeNumber(w, "index", i);
    writeString(w, "digest", layers[i].digest.str());
    writeString(w, "mediaType", layers[i].mediaType);
    writeKey(w, "size");
    w.Int64(layers[i].size);
    w.EndObject();
  }
  w.EndArray();
  writeKey(w, "history");
  w.StartArray();
  size_t next = 0;
  for (const browse::HistoryEntry& h : history) {
    w.StartObject();
    writeOptionalString(w, "created", h.created);
    writeString(w, "createdBy", h.createdBy);
    writeString(w, "comment", h.comment);
    writeKey(w, "emptyLayer");
    w.Bool(h.emptyLayer);
    bool matched = !h.emptyLayer && next < layers.size();
    writeKey(w, "layer");
    matched ? w.Uint64(next) : w.Null();
    writeKey(w, "size");
    matched ? w.Int64(layers[next].size) : w.Null();
    if (!h.emptyLayer) ++next;
    w.EndObject();
  }
  w.EndArray();
}

void writeReferrers(JsonWriter& w, Registry& registry, const Repository& repo,
                    const Digest& subject) {
  writeKey(w, "referrers");
  w.StartArray();
  for (const Digest& digest : repo.listReferrers(subject)) {
    std::shared_ptr<const browse::ManifestFacts> facts;
    try {
      facts = registry.facts().get(registry.store(), digest);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kManifestUnknown) continue;  // deleted meanwhile
      throw;
    }
    w.StartObject();
    writeString(w, "digest", digest.str());
    writeString(w, "artifactType", facts->artifactType);
    writeString(w, "mediaType", facts->mediaType);
    writeNumber(w, "size", facts->size);
    writeStringMap(w, "annotations", facts->annotations);
    w.EndObject();
  }
  w.EndArray();
}

// The index child ?platform= names (Error(kManifestUnknown) when it has none).
Digest childDigest(const Manifest& index, const std::string& platform, const Route& route) {
  const Descriptor* child = layers::childFor(index, layers::parsePlatform(platform));
  if (!child) {
    throw Error(ErrorKind::kManifestUnknown, "no " + platform + " image in " + route.reference +
                                                 " (it has " + layers::platformsOf(index) + ")");
  }
  return child->digest;
}

}  // namespace

Response handleUiImage(Registry& registry, const Request& request, const Route& route) {
  Repository repo = repositoryFor(registry, route);
  Digest named = manifestDigestOf(repo, route);
  Digest shown = named;
  std::string bytes = repo.getManifest(named);
  std::optional<Manifest> manifest = readable(bytes);
  std::optional<Manifest> index;
  auto platform = queryValue(request.query, "platform");
  if (manifest && manifest->kind == ManifestKind::kIndex) {
    index = manifest;
    if (platform && !platform->empty()) {
      shown = childDigest(*index, *platform, route);
      bytes = repo.getManifest(shown);
      manifest = readable(bytes);
    }
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeString(w, "name", route.name);
  writeString(w, "reference", route.reference);
  writeKey(w, "canDelete");
  w.Bool(uiMayDelete(registry, request, repo.name()));
  writeString(w, "digest", shown.str());
  writeString(w, "mediaType", manifest ? manifest->mediaType : describeManifest(bytes).mediaType);
  writeNumber(w, "size", bytes.size());
  writeString(w, "manifest", bytes);
  writeStringMap(w, "annotations",
                 manifest ? manifest->annotations : decltype(Manifest::annotations){});
  if (index) {
    writeIndex(w, named, *index);
  } else {
    writeKey(w, "index");
    w.Null();
  }
  bool image = manifest && manifest->kind == ManifestKind::kImage && manifest->config;
  auto config = image ? configOf(registry.store(), *manifest->config) : std::nullopt;
  if (config) {
    writeConfig(w, manifest->config->digest, *config);
  } else {
    writeKey(w, "config");
    w.Null();
  }
  writeLayersAndHistory(w, image ? manifest->layers : std::vector<Descriptor>{},
                        config ? config->history : std::vector<browse::HistoryEntry>{});
  writeReferrers(w, registry, repo, shown);
  std::vector<std::string> tags;
  for (const Tag& tag : repo.tagsFor(named)) tags.push_back(tag.str());
  writeStrings(w, "tags", tags);
  w.EndObject();
  return jsonResponse(buf);
}

}  // namespace regfs::api
