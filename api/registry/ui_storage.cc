// GET /v2/_regfs/storage: the store's space (blobs, what the repositories reference, what
// sharing saves, the biggest repositories, uploads in progress), for the web UI: a walk of
// the whole store, as regfsctl du does, kept until something changes it
// (browse::StoreSummaries).
#include "api/registry/handlers.h"
#include "api/registry/json_body.h"
#include "common/browse/summaries.h"

namespace regfs::api {

Response handleUiStorage(Registry& registry, const Request&) {
  std::shared_ptr<const browse::StorageSummary> kept = registry.summaries().storage();
  const browse::StorageSummary& s = *kept;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeNumber(w, "blobs", s.blobs);
  writeNumber(w, "bytes", s.bytes);
  writeNumber(w, "referencedBytes", s.referencedBytes);
  writeNumber(w, "dedupeSavings", s.dedupeSavings);
  writeNumber(w, "repositories", s.repositories);
  writeKey(w, "biggest");
  w.StartArray();
  for (const browse::RepositorySize& r : s.biggest) {
    w.StartObject();
    writeString(w, "name", r.name);
    writeNumber(w, "size", r.size);
    w.EndObject();
  }
  w.EndArray();
  writeKey(w, "uploads");
  w.StartArray();
  for (const browse::RepositoryUpload& u : s.uploads) {
    w.StartObject();
    writeString(w, "name", u.name);
    writeString(w, "uuid", u.upload.uuid);
    writeNumber(w, "size", u.upload.size);
    writeString(w, "startedAt", u.upload.startedAt);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return jsonResponse(buf);
}

}  // namespace regfs::api
