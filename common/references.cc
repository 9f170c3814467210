#include "common/references.h"

#include <rapidjson/document.h>

namespace regfs {
namespace {

bool appendDigests(const rapidjson::Value& doc, const char* array, const char* field,
                   std::vector<Digest>& out) {
  auto it = doc.FindMember(array);
  if (it == doc.MemberEnd()) return true;
  if (!it->value.IsArray()) return false;
  for (const auto& entry : it->value.GetArray()) {
    if (!entry.IsObject()) return false;
    auto d = entry.FindMember(field);
    if (d == entry.MemberEnd() || !d->value.IsString()) return false;
    auto digest = Digest::tryParse(d->value.GetString());
    if (!digest) return false;
    out.push_back(*digest);
  }
  return true;
}

std::optional<Digest> descriptorDigest(const rapidjson::Value& doc, const char* field, bool& ok) {
  auto it = doc.FindMember(field);
  if (it == doc.MemberEnd()) return std::nullopt;
  if (!it->value.IsObject()) return ok = false, std::nullopt;
  auto d = it->value.FindMember("digest");
  if (d == it->value.MemberEnd() || !d->value.IsString()) return ok = false, std::nullopt;
  auto digest = Digest::tryParse(d->value.GetString());
  if (!digest) ok = false;
  return digest;
}

}  // namespace

std::optional<ManifestReferences> manifestReferences(std::string_view bytes) {
  rapidjson::Document doc;
  doc.Parse(bytes.data(), bytes.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  auto version = doc.FindMember("schemaVersion");
  if (version == doc.MemberEnd() || !version->value.IsInt()) return std::nullopt;
  ManifestReferences refs;
  bool ok = true;
  if (version->value.GetInt() == 1) {
    if (!appendDigests(doc, "fsLayers", "blobSum", refs.blobs)) return std::nullopt;
    return refs;
  }
  if (version->value.GetInt() != 2) return std::nullopt;
  if (auto config = descriptorDigest(doc, "config", ok)) refs.blobs.push_back(*config);
  if (!appendDigests(doc, "layers", "digest", refs.blobs)) return std::nullopt;
  if (!appendDigests(doc, "blobs", "digest", refs.blobs)) return std::nullopt;
  if (!appendDigests(doc, "manifests", "digest", refs.manifests)) return std::nullopt;
  refs.subject = descriptorDigest(doc, "subject", ok);
  if (!ok) return std::nullopt;
  return refs;
}

}  // namespace regfs
