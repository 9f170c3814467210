#pragma once
// Closing Pistache's listening socket from outside: Pistache 0.0.5 cannot stop accepting
// without stopping every connection, which a graceful drain needs to keep.

#include <cstdint>

namespace regfs::api {

// Finds this process's listening TCP socket on `port` and closes the port (new
// connections are refused) while the descriptor number stays valid for its owner, which
// closes it later. Returns false if no such socket was found.
bool stopListening(uint16_t port);

}  // namespace regfs::api
