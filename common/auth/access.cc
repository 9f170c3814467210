#include "common/auth/access.h"

namespace regfs {

std::vector<Access> repositoryAccess(std::string_view method, const RepoName& repo) {
  auto access = [&](const char* action) { return Access{"repository", repo.str(), action}; };
  if (method == "GET" || method == "HEAD") return {access("pull")};
  if (method == "POST" || method == "PUT" || method == "PATCH")
    return {access("pull"), access("push")};
  if (method == "DELETE") return {access("delete")};
  return {};
}

Access catalogAccess() { return {"registry", "catalog", "*"}; }

std::string scopeParam(const std::vector<Access>& access) {
  struct Resource {
    const Access* first;
    std::vector<const std::string*> actions;
  };
  std::vector<Resource> resources;
  for (const Access& a : access) {
    Resource* found = nullptr;
    for (Resource& r : resources) {
      if (r.first->type == a.type && r.first->name == a.name) found = &r;
    }
    if (!found) found = &resources.emplace_back(Resource{&a, {}});
    bool seen = false;
    for (const std::string* action : found->actions) seen = seen || *action == a.action;
    if (!seen) found->actions.push_back(&a.action);
  }
  std::string out;
  for (const Resource& r : resources) {
    if (!out.empty()) out += ' ';
    out += r.first->type + ":" + r.first->name + ":";
    for (size_t i = 0; i < r.actions.size(); ++i) out += (i ? "," : "") + *r.actions[i];
  }
  return out;
}

}  // namespace regfs
