#include "fs/manifest_parts.h"

#include <rapidjson/document.h>

#include "common/error.h"

namespace regfs::view {
namespace {

std::string stringMember(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return {};
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

std::optional<Descriptor> lenientDescriptor(const rapidjson::Value& v) {
  auto digest = Digest::tryParse(stringMember(v, "digest"));
  if (!digest) return std::nullopt;
  Descriptor d{stringMember(v, "mediaType"), *digest};
  if (auto p = v.FindMember("platform"); p != v.MemberEnd() && p->value.IsObject()) {
    d.platform = Platform{stringMember(p->value, "os"),
                          stringMember(p->value, "architecture"),
                          stringMember(p->value, "variant"),
                          {},
                          {}};
  }
  return d;
}

void lenientArray(const rapidjson::Value& doc, const char* name, std::vector<Descriptor>& out) {
  auto it = doc.FindMember(name);
  if (it == doc.MemberEnd() || !it->value.IsArray()) return;
  for (const auto& item : it->value.GetArray()) {
    if (auto d = lenientDescriptor(item)) out.push_back(std::move(*d));
  }
}

ManifestParts describeLeniently(std::string_view bytes) {
  ManifestParts parts;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(bytes.data(),
                                            bytes.size());  // no recursion per nesting level
  if (doc.HasParseError() || !doc.IsObject()) return parts;
  parts.mediaType = stringMember(doc, "mediaType");
  const rapidjson::Document& constDoc = doc;
  if (auto it = constDoc.FindMember("config"); it != constDoc.MemberEnd()) {
    parts.config = lenientDescriptor(it->value);
  }
  lenientArray(doc, "layers", parts.blobs);
  lenientArray(doc, "blobs", parts.blobs);
  lenientArray(doc, "manifests", parts.children);
  return parts;
}

}  // namespace

ManifestParts describeManifest(std::string_view bytes) {
  try {
    Manifest m = parseStoredManifest(bytes);
    return ManifestParts{m.mediaType, m.config, std::move(m.layers), std::move(m.manifests)};
  } catch (const Error&) {
    return describeLeniently(bytes);
  }
}

}  // namespace regfs::view
