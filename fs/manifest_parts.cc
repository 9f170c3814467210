#include "fs/manifest_parts.h"

#include <rapidjson/document.h>

namespace regfs::view {
namespace {

std::string stringMember(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return {};
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

std::optional<Descriptor> descriptor(const rapidjson::Value& v) {
  auto digest = Digest::tryParse(stringMember(v, "digest"));
  if (!digest) return std::nullopt;
  return Descriptor{*digest, stringMember(v, "mediaType")};
}

std::vector<Descriptor> descriptors(const rapidjson::Value& doc, const char* name) {
  std::vector<Descriptor> out;
  auto it = doc.FindMember(name);
  if (it == doc.MemberEnd() || !it->value.IsArray()) return out;
  for (const auto& item : it->value.GetArray()) {
    if (auto d = descriptor(item)) out.push_back(std::move(*d));
  }
  return out;
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

ManifestParts describeManifest(std::string_view bytes) {
  ManifestParts parts;
  rapidjson::Document doc;
  doc.Parse(bytes.data(), bytes.size());
  if (doc.HasParseError() || !doc.IsObject()) return parts;
  parts.mediaType = stringMember(doc, "mediaType");
  if (auto it = doc.FindMember("config"); it != doc.MemberEnd()) parts.config = descriptor(it->value);
  parts.blobs = descriptors(doc, "layers");
  for (Descriptor& d : descriptors(doc, "blobs")) parts.blobs.push_back(std::move(d));
  auto it = doc.FindMember("manifests");
  if (it != doc.MemberEnd() && it->value.IsArray()) {
    for (const auto& item : it->value.GetArray()) {
      auto d = descriptor(item);
      if (!d) continue;
      ManifestChild child{d->digest, d->mediaType, std::nullopt};
      if (auto p = item.FindMember("platform"); p != item.MemberEnd() && p->value.IsObject()) {
        child.platform = Platform{stringMember(p->value, "os"), stringMember(p->value, "architecture"),
                                  stringMember(p->value, "variant")};
      }
      parts.children.push_back(std::move(child));
    }
  }
  return parts;
}

std::string layerFileExtension(std::string_view mediaType) {
  if (endsWith(mediaType, "+gzip") || endsWith(mediaType, ".tar.gzip")) return ".tar.gz";
  if (endsWith(mediaType, "+zstd")) return ".tar.zst";
  if (endsWith(mediaType, ".tar") || endsWith(mediaType, ".tar.v1")) return ".tar";
  if (endsWith(mediaType, "+json") || endsWith(mediaType, "/json")) return ".json";
  return "";
}

std::string platformName(const std::optional<Platform>& platform) {
  if (!platform) return "unknown";
  auto part = [](const std::string& s) { return s.empty() ? std::string("unknown") : s; };
  std::string name = part(platform->os) + "-" + part(platform->architecture);
  if (!platform->variant.empty()) name += "-" + platform->variant;
  // A platform name is one path component.
  for (char& c : name) {
    if (c == '/' || c == '\0') c = '_';
  }
  return name;
}

}  // namespace regfs::view
