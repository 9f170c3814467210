#include "common/browse/image_config.h"

#include <rapidjson/document.h>

#include "common/utf8.h"

namespace regfs::browse {
namespace {

using JsonValue = rapidjson::Value;

const JsonValue* member(const JsonValue& object, const char* name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

std::string text(const JsonValue& v) {
  return utf8Text(std::string_view(v.GetString(), v.GetStringLength()));
}

std::string stringOf(const JsonValue& object, const char* name) {
  const JsonValue* v = member(object, name);
  return v && v->IsString() ? text(*v) : std::string();
}

std::optional<std::string> optionalStringOf(const JsonValue& object, const char* name) {
  const JsonValue* v = member(object, name);
  if (!v || !v->IsString()) return std::nullopt;
  return text(*v);
}

std::vector<std::string> stringsOf(const JsonValue& object, const char* name) {
  std::vector<std::string> out;
  const JsonValue* v = member(object, name);
  if (!v || !v->IsArray()) return out;
  for (const JsonValue& item : v->GetArray()) {
    if (item.IsString()) out.push_back(text(item));
  }
  return out;
}

std::vector<std::string> keysOf(const JsonValue& object, const char* name) {
  std::vector<std::string> out;
  const JsonValue* v = member(object, name);
  if (!v || !v->IsObject()) return out;
  for (const auto& m : v->GetObject()) out.push_back(text(m.name));
  return out;
}

}  // namespace

std::optional<ImageConfig> parseImageConfig(std::string_view bytes) {
  if (bytes.size() > kMaxImageConfigBytes) return std::nullopt;
  rapidjson::Document doc;
  doc.Parse(bytes.data(), bytes.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  ImageConfig c;
  c.created = optionalStringOf(doc, "created");
  c.architecture = stringOf(doc, "architecture");
  c.os = stringOf(doc, "os");
  c.variant = stringOf(doc, "variant");
  if (const JsonValue* run = member(doc, "config"); run && run->IsObject()) {
    c.user = stringOf(*run, "User");
    c.workingDir = stringOf(*run, "WorkingDir");
    c.entrypoint = stringsOf(*run, "Entrypoint");
    c.cmd = stringsOf(*run, "Cmd");
    c.env = stringsOf(*run, "Env");
    c.exposedPorts = keysOf(*run, "ExposedPorts");
    c.volumes = keysOf(*run, "Volumes");
    if (const JsonValue* labels = member(*run, "Labels"); labels && labels->IsObject()) {
      for (const auto& m : labels->GetObject()) {
        if (m.value.IsString()) c.labels[text(m.name)] = text(m.value);
      }
    }
  }
  if (const JsonValue* history = member(doc, "history"); history && history->IsArray()) {
    for (const JsonValue& h : history->GetArray()) {
      if (!h.IsObject()) continue;
      HistoryEntry e;
      e.created = optionalStringOf(h, "created");
      e.createdBy = stringOf(h, "created_by");
      e.comment = stringOf(h, "comment");
      const JsonValue* empty = member(h, "empty_layer");
      e.emptyLayer = empty && empty->IsBool() && empty->GetBool();
      c.history.push_back(std::move(e));
    }
  }
  return c;
}

}  // namespace regfs::browse
