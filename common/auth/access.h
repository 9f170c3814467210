#pragma once
// What a request needs permission for, in distribution's terms (registry/auth): a typed,
// named resource and an action. The server derives it from the route:
//
//   GET /v2/                                  nothing: any valid credentials
//   GET /v2/_catalog                          registry:catalog:*
//   GET, HEAD  /v2/<name>/...                 repository:<name>:pull
//   POST, PUT, PATCH /v2/<name>/...           repository:<name>:pull and push
//   DELETE /v2/<name>/...                     repository:<name>:delete
//   POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other>
//                                             additionally repository:<other>:pull
//
// (Pushing needs pull as well because distribution asks for both; token servers grant
// "pull,push" together.)

#include <string>
#include <string_view>
#include <vector>

#include "common/names.h"

namespace regfs {

struct Access {
  std::string type;    // "repository" or "registry"
  std::string name;    // "library/alpine", or "catalog"
  std::string action;  // "pull", "push", "delete", or "*"
  friend bool operator==(const Access&, const Access&) = default;
};

// The access `method` (upper case) on a repository route needs, per the table above.
// Unknown methods need nothing here; the router refuses them anyway.
std::vector<Access> repositoryAccess(std::string_view method, const RepoName& repo);
// registry:catalog:*, for /v2/_catalog.
Access catalogAccess();

// The scope of a Bearer challenge or token request: resources separated by spaces, each
// "type:name:action,action" in the order first requested
// ("repository:a:pull,push repository:b:pull").
std::string scopeParam(const std::vector<Access>& access);

}  // namespace regfs
