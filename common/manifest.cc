#include "common/manifest.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <set>
#include <span>
#include <utility>

#include "common/error.h"
#include "common/utf8.h"

namespace regfs {
namespace {

using JsonValue = rapidjson::Value;

[[noreturn]] void invalid(const std::string& why) {
  throw Error(ErrorKind::kManifestInvalid, "invalid manifest: " + why);
}

[[noreturn]] void refuseSchema1() {
  invalid(
      "Docker schema 1 manifests are not supported (distribution no longer accepts them); push "
      "the image again with a current client, which writes schema 2 or OCI");
}

char asciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Whether Go's encoding/json would match JSON key `name` to the field `key` (lowercase ASCII):
// ASCII case folds, and so do the two non-ASCII runes whose fold set holds an ASCII letter,
// U+017F LATIN SMALL LETTER LONG S (s) and U+212A KELVIN SIGN (k).
bool goFoldEquals(std::string_view name, std::string_view key) {
  size_t i = 0;
  for (char k : key) {
    if (i >= name.size()) return false;
    if (name.substr(i, 2) == "\xC5\xBF") {
      if (k != 's') return false;
      i += 2;
    } else if (name.substr(i, 3) == "\xE2\x84\xAA") {
      if (k != 'k') return false;
      i += 3;
    } else {
      if (asciiLower(name[i]) != asciiLower(k)) return false;
      i += 1;
    }
  }
  return i == name.size();
}

// Text from the manifest, cut short for a message (messages reach error responses and logs),
// at a UTF-8 character boundary so that the message stays valid UTF-8.
std::string clip(std::string_view s) {
  constexpr size_t kMax = 200;
  if (s.size() <= kMax) return std::string(s);
  size_t n = kMax;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string_view view(const JsonValue& v) { return {v.GetString(), v.GetStringLength()}; }

// A JSON string as Go's decoder reads it, which is what distribution and the clients read:
// each byte that is not part of well-formed UTF-8 becomes U+FFFD.
std::string goText(const JsonValue& v) { return utf8Text(view(v)); }

// `bytes` with every \u escape of a lone UTF-16 surrogate rewritten to \ufffd (the same
// length, so offsets in messages still point into the bytes as pushed): Go's decoder reads
// such an escape as U+FFFD, RapidJSON refuses it. nullopt when there is none.
std::optional<std::string> replaceLoneSurrogates(std::string_view bytes) {
  auto hex4 = [&](size_t i) -> std::optional<unsigned> {
    if (i + 4 > bytes.size()) return std::nullopt;
    unsigned v = 0;
    for (size_t k = i; k < i + 4; ++k) {
      char c = bytes[k];
      unsigned d = c >= '0' && c <= '9'   ? static_cast<unsigned>(c - '0')
                   : c >= 'a' && c <= 'f' ? static_cast<unsigned>(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? static_cast<unsigned>(c - 'A' + 10)
                                          : 16u;
      if (d == 16) return std::nullopt;
      v = v * 16 + d;
    }
    return v;
  };
  std::optional<std::string> out;
  bool inString = false;
  for (size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (c == '"') inString = !inString;
    if (!inString || c != '\\' || i + 1 >= bytes.size()) continue;
    if (bytes[i + 1] != 'u') {
      ++i;  // a two-character escape: \" does not end the string
      continue;
    }
    auto v = hex4(i + 2);
    if (!v) continue;  // RapidJSON reports it
    bool high = *v >= 0xD800 && *v <= 0xDBFF, low = *v >= 0xDC00 && *v <= 0xDFFF;
    if (high && i + 7 < bytes.size() && bytes[i + 6] == '\\' && bytes[i + 7] == 'u') {
      if (auto next = hex4(i + 8); next && *next >= 0xDC00 && *next <= 0xDFFF) {
        i += 11;  // a pair
        continue;
      }
    }
    if (high || low) {
      if (!out) out.emplace(bytes);
      out->replace(i, 6, "\\ufffd");
    }
    i += 5;
  }
  return out;
}

// A prefix for messages about the value at `path` ("layers[2].digest: ").
std::string at(const std::string& path) { return path.empty() ? std::string() : path + ": "; }

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// Keys whose Go field is a slice, a map or a pointer: a null there empties it. A null for any
// other field (a string, a number, a struct) leaves it as it was.
bool nullClears(std::string_view key) {
  static constexpr std::string_view kClearing[] = {"layers",   "manifests",   "annotations",
                                                   "urls",     "os.features", "subject",
                                                   "platform", "fsLayers",    "signatures"};
  return std::find(std::begin(kClearing), std::end(kClearing), key) != std::end(kClearing);
}

// The members of a JSON object that the model reads, found as Go's encoding/json finds them
// (distribution and most clients decode with it), so that regfs reads the same manifest from
// the same bytes as they do: keys match case-insensitively (Go's folding), a later duplicate
// replaces an earlier one, and a null replaces only what nullClears says. Other keys are
// ignored.
class Fields {
 public:
  Fields(const JsonValue& object, std::span<const std::string_view> known, std::string path)
      : path_(std::move(path)) {
    if (!object.IsObject()) invalid(at(path_) + "expected a JSON object");
    for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
      std::string_view name = view(it->name);
      for (std::string_view key : known) {
        if (!goFoldEquals(name, key)) continue;
        auto seen = std::find_if(found_.begin(), found_.end(),
                                 [&](const auto& entry) { return entry.first == key; });
        if (seen == found_.end()) {
          found_.emplace_back(key, &it->value);
        } else if (!it->value.IsNull() || nullClears(key)) {
          seen->second = &it->value;
        }
        break;
      }
    }
  }

  // The value of `key`, or nullptr when it is absent or null.
  const JsonValue* get(std::string_view key) const {
    for (const auto& [name, value] : found_) {
      if (name == key) return value->IsNull() ? nullptr : value;
    }
    return nullptr;
  }
  std::string path(std::string_view key) const { return join(path_, key); }

  std::string text(std::string_view key, bool required) const {
    const JsonValue* v = get(key);
    if (!v) {
      if (required) invalid(path(key) + " is required");
      return {};
    }
    if (!v->IsString()) invalid(path(key) + " must be a string");
    return goText(*v);
  }

  const JsonValue* array(std::string_view key) const {
    const JsonValue* v = get(key);
    if (v && !v->IsArray()) invalid(path(key) + " must be an array");
    return v;
  }

 private:
  std::string path_;
  std::vector<std::pair<std::string_view, const JsonValue*>> found_;
};

constexpr std::string_view kTopKeys[] = {
    "schemaVersion", "mediaType", "artifactType", "config",   "layers",
    "manifests",     "subject",   "annotations",  "fsLayers", "signatures"};
constexpr std::string_view kDescriptorKeys[] = {"mediaType",   "digest",       "size",     "urls",
                                                "annotations", "artifactType", "platform", "data"};
constexpr std::string_view kPlatformKeys[] = {"architecture", "os", "os.version", "os.features",
                                              "variant"};
constexpr std::string_view kFsLayerKeys[] = {"blobSum"};

std::vector<std::string> parseStrings(const Fields& f, std::string_view key) {
  std::vector<std::string> out;
  if (const JsonValue* a = f.array(key)) {
    for (rapidjson::SizeType i = 0; i < a->Size(); ++i) {
      if (!(*a)[i].IsString()) invalid(f.path(key) + " must hold strings");
      out.push_back(goText((*a)[i]));
    }
  }
  return out;
}

std::map<std::string, std::string> parseAnnotations(const Fields& f) {
  std::map<std::string, std::string> out;
  const JsonValue* v = f.get("annotations");
  if (!v) return out;
  if (!v->IsObject()) invalid(f.path("annotations") + " must be an object");
  for (auto it = v->MemberBegin(); it != v->MemberEnd(); ++it) {
    std::string key = goText(it->name);
    if (!it->value.IsString()) {
      invalid(f.path("annotations") + "[\"" + clip(key) + "\"] must be a string");
    }
    out[key] = goText(it->value);  // a repeated key: the last one, as in Go's map
  }
  return out;
}

Platform parsePlatform(const JsonValue& v, const std::string& path) {
  Fields f(v, kPlatformKeys, path);
  Platform p;
  p.os = f.text("os", false);
  p.architecture = f.text("architecture", false);
  p.variant = f.text("variant", false);
  p.osVersion = f.text("os.version", false);
  p.osFeatures = parseStrings(f, "os.features");
  return p;
}

Digest parseDigest(const Fields& f) {
  const JsonValue* v = f.get("digest");
  if (!v) invalid(f.path("digest") + " is required");
  if (!v->IsString()) invalid(f.path("digest") + " must be a string");
  try {
    return Digest::parse(goText(*v));
  } catch (const Error& e) {
    throw Error(ErrorKind::kDigestInvalid,
                "invalid manifest: " + f.path("digest") + ": " + e.what());
  }
}

Descriptor parseDescriptor(const JsonValue& v, const std::string& path) {
  Fields f(v, kDescriptorKeys, path);
  std::string mediaType = f.text("mediaType", true);
  Digest digest = parseDigest(f);
  const JsonValue* size = f.get("size");
  if (!size) invalid(f.path("size") + " is required");
  if (!size->IsInt64()) {
    invalid(f.path("size") + " must be an integer below 2^63");
  }
  // A negative size is stored as pushed, as distribution does; regfs never sizes anything by
  // it (blob sizes come from the blobs).
  Descriptor d{std::move(mediaType), std::move(digest), size->GetInt64()};
  d.artifactType = f.text("artifactType", false);
  if (const JsonValue* p = f.get("platform")) d.platform = parsePlatform(*p, f.path("platform"));
  d.urls = parseStrings(f, "urls");
  d.annotations = parseAnnotations(f);
  if (const JsonValue* data = f.get("data"); data && !data->IsString()) {
    invalid(f.path("data") + " must be a string");
  }
  return d;
}

std::vector<Descriptor> parseDescriptors(const Fields& f, std::string_view key) {
  std::vector<Descriptor> out;
  if (const JsonValue* a = f.array(key)) {
    out.reserve(a->Size());
    for (rapidjson::SizeType i = 0; i < a->Size(); ++i) {
      out.push_back(parseDescriptor((*a)[i], f.path(key) + "[" + std::to_string(i) + "]"));
    }
  }
  return out;
}

// Iterative parsing keeps deeply nested input off the call stack; the memory-pool allocator
// frees a document without recursion.
rapidjson::Document parseJson(std::string_view bytes) {
  // RapidJSON skips a UTF-8 byte order mark; Go's decoder, and so every client, refuses it.
  if (bytes.starts_with("\xEF\xBB\xBF")) invalid("not JSON: starts with a byte order mark");
  // Invalid UTF-8 is read as Go reads it (goText); lone surrogates likewise, from a copy.
  std::optional<std::string> rewritten = replaceLoneSurrogates(bytes);
  if (rewritten) bytes = *rewritten;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(bytes.data(), bytes.size());
  if (doc.HasParseError()) {
    invalid(std::string("not JSON: ") + rapidjson::GetParseError_En(doc.GetParseError()) +
            " at byte " + std::to_string(doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) invalid("expected a JSON object");
  return doc;
}

int schemaVersionOf(const Fields& top) {
  const JsonValue* v = top.get("schemaVersion");
  if (!v) invalid("schemaVersion is required");
  if (!v->IsInt()) invalid("schemaVersion must be an integer");
  return v->GetInt();
}

bool isDockerType(std::string_view mediaType) {
  return mediaType == media::kDockerManifest || mediaType == media::kDockerManifestList;
}

bool isSchema1Type(std::string_view mediaType) {
  return mediaType == media::kDockerSchema1 || mediaType == media::kDockerSchema1Signed;
}

// Fills the model for a schema 2 document whose effective type is `mediaType`.
Manifest buildManifest(const Fields& top, std::string_view mediaType) {
  Manifest m;
  m.mediaType = std::string(mediaType);
  bool oci = !isDockerType(mediaType);
  std::string declaredArtifactType;
  if (oci) {
    declaredArtifactType = top.text("artifactType", false);
    if (const JsonValue* s = top.get("subject")) m.subject = parseDescriptor(*s, "subject");
    m.annotations = parseAnnotations(top);
  }
  if (mediaType == media::kDockerManifest || mediaType == media::kOciManifest) {
    m.kind = ManifestKind::kImage;
    if (top.get("manifests")) {
      invalid("an image manifest (" + m.mediaType + ") must not have \"manifests\"");
    }
    const JsonValue* config = top.get("config");
    if (!config) invalid("config is required in an image manifest");
    m.config = parseDescriptor(*config, "config");
    m.layers = parseDescriptors(top, "layers");
    if (mediaType == media::kDockerManifest) {
      for (size_t i = 0; i < m.layers.size(); ++i) {
        if (m.layers[i].mediaType == media::kDockerForeignLayer && m.layers[i].urls.empty()) {
          invalid("layers[" + std::to_string(i) + "] is a foreign layer without urls");
        }
      }
    }
    m.artifactType = declaredArtifactType.empty() ? m.config->mediaType : declaredArtifactType;
  } else {
    m.kind = ManifestKind::kIndex;
    if (top.get("config") || top.get("layers")) {
      invalid("an index (" + m.mediaType + ") must not have \"config\" or \"layers\"");
    }
    m.manifests = parseDescriptors(top, "manifests");
    m.artifactType = declaredArtifactType;
  }
  return m;
}

Manifest buildSchema1(const Fields& top) {
  Manifest m;
  m.mediaType =
      std::string(top.get("signatures") ? media::kDockerSchema1Signed : media::kDockerSchema1);
  m.kind = ManifestKind::kImage;
  const JsonValue* fsLayers = top.array("fsLayers");
  if (!fsLayers) invalid("fsLayers is required in a schema 1 manifest");
  // fsLayers lists the top layer first; the model keeps the base first.
  for (rapidjson::SizeType i = fsLayers->Size(); i-- > 0;) {
    std::string path = "fsLayers[" + std::to_string(i) + "]";
    Fields f((*fsLayers)[i], kFsLayerKeys, path);
    const JsonValue* sum = f.get("blobSum");
    if (!sum || !sum->IsString()) invalid(path + ".blobSum must be a string");
    Digest digest = [&] {
      try {
        return Digest::parse(goText(*sum));
      } catch (const Error& e) {
        throw Error(ErrorKind::kDigestInvalid,
                    "invalid manifest: " + path + ".blobSum: " + e.what());
      }
    }();
    m.layers.push_back(Descriptor{std::string(media::kDockerSchema1Layer), std::move(digest), -1});
  }
  return m;
}

bool hasImageShape(const Fields& top) { return top.get("config") || top.get("layers"); }

// Whether a Descriptor's content may live outside the registry, so a push need not find it.
bool fetchedElsewhere(std::string_view manifestType, const Descriptor& d) {
  if (d.mediaType == media::kDockerForeignLayer) return true;
  if (d.urls.empty()) return false;
  if (isDockerType(manifestType)) return true;
  return d.mediaType.starts_with("application/vnd.oci.image.layer.nondistributable.");
}

void writeString(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void writeDescriptor(rapidjson::Writer<rapidjson::StringBuffer>& w, const Descriptor& d) {
  w.StartObject();
  w.Key("mediaType");
  writeString(w, d.mediaType);
  w.Key("digest");
  writeString(w, d.digest.str());
  w.Key("size");
  w.Int64(d.size);
  if (!d.artifactType.empty()) {
    w.Key("artifactType");
    writeString(w, d.artifactType);
  }
  if (!d.urls.empty()) {
    w.Key("urls");
    w.StartArray();
    for (const auto& u : d.urls) writeString(w, u);
    w.EndArray();
  }
  if (d.platform) {
    const Platform& p = *d.platform;
    w.Key("platform");
    w.StartObject();
    w.Key("architecture");
    writeString(w, p.architecture);
    w.Key("os");
    writeString(w, p.os);
    if (!p.osVersion.empty()) {
      w.Key("os.version");
      writeString(w, p.osVersion);
    }
    if (!p.osFeatures.empty()) {
      w.Key("os.features");
      w.StartArray();
      for (const auto& f : p.osFeatures) writeString(w, f);
      w.EndArray();
    }
    if (!p.variant.empty()) {
      w.Key("variant");
      writeString(w, p.variant);
    }
    w.EndObject();
  }
  if (!d.annotations.empty()) {
    w.Key("annotations");
    w.StartObject();
    for (const auto& [k, v] : d.annotations) {
      w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
      writeString(w, v);
    }
    w.EndObject();
  }
  w.EndObject();
}

// Leaves room under NAME_MAX (255) for the suffixes platformEntryNames() adds.
constexpr size_t kMaxPlatformName = 200;

std::string safePart(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '+' || c == '-';
    out.push_back(ok ? c : '_');
  }
  return out;
}

// The lenient reading of describeManifest: any descriptor with a digest, keys as written.
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

std::vector<Descriptor> Manifest::blobReferences() const {
  std::vector<Descriptor> out;
  std::set<Digest> seen;
  if (config && seen.insert(config->digest).second) out.push_back(*config);
  for (const auto& layer : layers) {
    if (seen.insert(layer.digest).second) out.push_back(layer);
  }
  return out;
}

std::vector<Descriptor> Manifest::requiredBlobs() const {
  std::vector<Descriptor> out = blobReferences();
  std::erase_if(out, [&](const Descriptor& d) { return fetchedElsewhere(mediaType, d); });
  return out;
}

std::vector<Descriptor> Manifest::manifestReferences() const { return manifests; }

Manifest parseManifest(std::string_view bytes, std::string_view contentType) {
  if (bytes.size() > kMaxManifestBytes) {
    invalid("manifest is " + std::to_string(bytes.size()) + " bytes, over the limit of " +
            std::to_string(kMaxManifestBytes));
  }
  std::string ct = bareMediaType(contentType);
  if (isSchema1Type(ct)) refuseSchema1();
  rapidjson::Document doc = parseJson(bytes);
  Fields top(doc, kTopKeys, "");
  int version = schemaVersionOf(top);
  if (version == 1) refuseSchema1();
  if (version != 2)
    invalid("schemaVersion " + std::to_string(version) + " is not supported (expected 2)");
  const JsonValue* declaredValue = top.get("mediaType");
  if (declaredValue && !declaredValue->IsString()) invalid("mediaType must be a string");
  std::optional<std::string> declared;
  if (declaredValue) declared = goText(*declaredValue);

  std::string type;
  if (isManifestMediaType(ct)) {
    if (declared && *declared != ct) {
      invalid("mediaType in manifest should be '" + ct + "' not '" + clip(*declared) +
              "' (it must match the Content-Type)");
    }
    if (!declared && isDockerType(ct)) invalid("mediaType is required in a " + ct + " manifest");
    // Without mediaType, the store tells an index from an image manifest by "manifests" alone.
    if (!declared && ct == media::kOciIndex && !top.get("manifests")) {
      invalid(
          "an OCI index without mediaType must have \"manifests\" (read back from the store, "
          "it would be an image manifest)");
    }
    type = ct;
  } else if (declared) {
    if (isSchema1Type(*declared)) refuseSchema1();
    if (!isManifestMediaType(*declared)) {
      invalid("unsupported manifest mediaType '" + clip(*declared) + "'");
    }
    type = *declared;
  } else {
    bool index = top.get("manifests") != nullptr;
    bool image = hasImageShape(top);
    if (index && image) invalid("has both \"manifests\" and \"config\"/\"layers\"");
    if (!index && !image) {
      invalid(
          "cannot tell its type: no mediaType, no manifest Content-Type, and neither "
          "\"config\" nor \"manifests\"");
    }
    type = std::string(index ? media::kOciIndex : media::kOciManifest);
  }
  return buildManifest(top, type);
}

Manifest parseStoredManifest(std::string_view bytes) {
  rapidjson::Document doc = parseJson(bytes);
  Fields top(doc, kTopKeys, "");
  int version = schemaVersionOf(top);
  if (version == 1) return buildSchema1(top);
  if (version != 2)
    invalid("schemaVersion " + std::to_string(version) + " is not supported (expected 2)");
  std::string declared = top.text("mediaType", false);
  if (declared.empty()) {
    return buildManifest(top, top.get("manifests") ? media::kOciIndex : media::kOciManifest);
  }
  if (!isManifestMediaType(declared))
    invalid("unsupported manifest mediaType '" + clip(declared) + "'");
  return buildManifest(top, declared);
}

ManifestParts describeManifest(std::string_view bytes) {
  try {
    Manifest m = parseStoredManifest(bytes);
    return ManifestParts{m.mediaType, m.config, std::move(m.layers), std::move(m.manifests)};
  } catch (const Error& e) {
    if (!isManifestParseError(e.kind())) throw;
    return describeLeniently(bytes);
  }
}

bool isManifestParseError(ErrorKind kind) {
  return kind == ErrorKind::kManifestInvalid || kind == ErrorKind::kDigestInvalid;
}

bool isManifestMediaType(std::string_view mediaType) {
  return mediaType == media::kDockerManifest || mediaType == media::kDockerManifestList ||
         mediaType == media::kOciManifest || mediaType == media::kOciIndex;
}

std::string bareMediaType(std::string_view headerValue) {
  std::string_view s = headerValue.substr(0, headerValue.find(';'));
  constexpr std::string_view kBlank = " \t";
  size_t first = s.find_first_not_of(kBlank);
  if (first == std::string_view::npos) return {};
  s = s.substr(first, s.find_last_not_of(kBlank) - first + 1);
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), asciiLower);
  return out;
}

ManifestToServe negotiateManifest(std::string_view storedMediaType, bool requestedByTag,
                                  const std::vector<std::string>& acceptHeaders) {
  auto accepts = [&](std::string_view type) {
    for (const std::string& header : acceptHeaders) {
      std::string_view rest = header;
      while (true) {
        size_t comma = rest.find(',');
        if (bareMediaType(rest.substr(0, comma)) == type) return true;
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    }
    return false;
  };
  if (storedMediaType == media::kOciManifest && !accepts(media::kOciManifest)) {
    throw Error(ErrorKind::kManifestUnknown,
                "OCI manifest found, but accept header does not support OCI manifests");
  }
  if (storedMediaType == media::kOciIndex && !accepts(media::kOciIndex)) {
    throw Error(ErrorKind::kManifestUnknown,
                "OCI index found, but accept header does not support OCI indexes");
  }
  if (requestedByTag && storedMediaType == media::kDockerManifestList &&
      !accepts(media::kDockerManifestList)) {
    return ManifestToServe::kDefaultPlatformChild;
  }
  return ManifestToServe::kStored;
}

const Descriptor& defaultPlatformChild(const Manifest& index) {
  for (const Descriptor& child : index.manifests) {
    if (child.platform && child.platform->os == "linux" &&
        child.platform->architecture == "amd64") {
      return child;
    }
  }
  throw Error(ErrorKind::kManifestUnknown,
              "the manifest list has no linux/amd64 image for a client that does not accept "
              "manifest lists");
}

std::string layerFileExtension(std::string_view mediaType) {
  std::string t = bareMediaType(mediaType);
  auto endsWithAny = [&](std::initializer_list<std::string_view> suffixes) {
    return std::any_of(suffixes.begin(), suffixes.end(),
                       [&](std::string_view s) { return endsWith(t, s); });
  };
  if (endsWithAny({"+json", "/json", ".json"})) return ".json";
  if (endsWithAny({"tar+gzip", "tar.gzip", "tar+gz", "tar.gz"})) return ".tar.gz";
  if (endsWithAny({"tar+zstd", "tar.zstd", "tar+zst", "tar.zst"})) return ".tar.zst";
  if (endsWithAny({"+gzip", ".gzip", "/gzip"})) return ".gz";
  if (endsWithAny({"+zstd", ".zstd", "/zstd"})) return ".zst";
  if (endsWithAny({".tar", "+tar", "/tar", "/x-tar"})) return ".tar";
  if (t == "text/plain") return ".txt";
  return ".bin";
}

std::string platformName(const Platform& p) {
  std::string name = p.os.empty() ? "unknown" : safePart(p.os);
  name += "-";
  name += p.architecture.empty() ? "unknown" : safePart(p.architecture);
  if (!p.variant.empty()) name += "-" + safePart(p.variant);
  if (!p.osVersion.empty()) name += "-" + safePart(p.osVersion);
  for (const auto& feature : p.osFeatures) {
    if (!feature.empty()) name += "+" + safePart(feature);
  }
  name.resize(std::min(name.size(), kMaxPlatformName));
  return name;
}

std::vector<std::string> platformEntryNames(const std::vector<Descriptor>& children) {
  auto isAttestation = [](const Descriptor& d) {
    auto it = d.annotations.find("vnd.docker.reference.type");
    return it != d.annotations.end() && it->second == "attestation-manifest";
  };
  std::vector<std::string> names(children.size());
  for (size_t i = 0; i < children.size(); ++i) {
    names[i] = children[i].platform ? platformName(*children[i].platform) : "unknown";
  }
  for (size_t i = 0; i < children.size(); ++i) {
    if (!isAttestation(children[i])) continue;
    auto ref = children[i].annotations.find("vnd.docker.reference.digest");
    if (ref == children[i].annotations.end()) continue;
    for (size_t j = 0; j < children.size(); ++j) {
      if (j != i && !isAttestation(children[j]) && children[j].digest.str() == ref->second) {
        names[i] = names[j] + ".attestation";
        break;
      }
    }
  }
  std::map<std::string, int> count;
  for (const auto& n : names) ++count[n];
  for (size_t i = 0; i < children.size(); ++i) {
    if (count[names[i]] > 1) names[i] += "-" + children[i].digest.hex().substr(0, 12);
  }
  std::set<std::string> used;
  for (auto& n : names) {
    std::string candidate = n;
    for (int k = 2; !used.insert(candidate).second; ++k) candidate = n + "-" + std::to_string(k);
    n = candidate;
  }
  return names;
}

Descriptor referrerDescriptor(const Manifest& manifest, const Digest& digest, int64_t size) {
  Descriptor d{manifest.mediaType, digest, size};
  d.artifactType = manifest.artifactType;
  d.annotations = manifest.annotations;
  return d;
}

std::string referrersIndexJson(const std::vector<Descriptor>& referrers) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("schemaVersion");
  w.Int(2);
  w.Key("mediaType");
  writeString(w, media::kOciIndex);
  w.Key("manifests");
  w.StartArray();
  for (const auto& d : referrers) writeDescriptor(w, d);
  w.EndArray();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace regfs
