#pragma once
// Test support: two requests racing on one upload session, on one server or on two that
// share a store. Each request is a slow client: its body goes out in small pieces,
// alternating with the other's, so both are in flight at once whatever the server's
// threads do. Then the rules every store kind must keep are checked:
//   - at most one of the two is answered 2xx, and the other gets 416 (or 404 once the
//     session is gone), never a 5xx;
//   - a 201 names a blob that serves exactly the body whose digest it is;
//   - when a PATCH won, the session holds exactly its body: committing it succeeds;
//   - no answer names a server path (`forbidden`).

#include <string>
#include <vector>

namespace regfs::testing {

enum class UploadRace {
  kTwoPuts,         // PUT ?digest= with a body, twice, each with its own bytes
  kTwoPatches,      // PATCH with Content-Range 0-…, twice, each with its own bytes
  kPutDuringPatch,  // a PATCH, and a PUT with other bytes while its body is being sent
};

struct UploadRaceResult {
  std::vector<std::string> problems;  // empty: every rule held
  int accepted = 0;                   // 2xx answers to the two racers
};

// One race on a new session of `repo` started on `portA`; the first request goes to
// `portA`, the second to `portB`. Bodies are `size` bytes made from `seed`.
UploadRaceResult raceOnUpload(UploadRace race, int portA, int portB, const std::string& repo,
                              size_t size, uint64_t seed, const std::string& forbidden);

std::string describe(UploadRace race);

}  // namespace regfs::testing
