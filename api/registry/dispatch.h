#pragma once
// The registry's entry point: routes one request to the handler of its resource
// (api/registry/handlers.h), which answers at once or streams the body into a sink.

#include "api/http/http.h"
#include "api/registry/registry.h"

namespace regfs::api {

// Routes one request. Throws regfs::Error for every failure the client should see.
Dispatch dispatch(Registry& registry, const Request& request);

}  // namespace regfs::api
