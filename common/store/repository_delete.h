#pragma once
// Deleting a repository while servers push into it, and the push's side of it.
//
// What goes: the repository's own directories, _uploads, _manifests (tags and revisions),
// _referrers and _layers, then its directory if nothing else is left in it. A nested
// repository ("a/b" lives inside "a"'s directory) is not touched. Blobs stay: garbage
// collection removes those no other repository links.
//
// A delete is a sequence of removals, each a listing and then one removal per file on S3
// (no atomic rename there, nor of a whole tree on a file system), so on its own it could
// leave half of a push that raced it: a tag whose revision was removed, a revision whose
// layer links were. The fence makes every manifest push end wholly before the delete
// (removed with it) or wholly after it (a new repository):
//
// Deleter                                      Manifest push (after its checks and writes)
//  D0 takes the fence, a lease (lease.h) at     loop:
//     _regfs_deleting in the repository's        A  read the fence; while one stands, wait
//     directory, claimed and confirmed after     W  write again what is missing: layer links
//     the settle                                    (blobs exist), revision, tag, referrer
//  D1 removes uploads, manifests, referrers,     B  read the fence; done when none stands and
//     layers (renewing the fence in between)        A to B took less than the settle
//  D2 removes the fence
//
// Proof. Take the last A, W, B of a push that answered. (1) If B read before D0's fence was
// written, every write of the push (W included) precedes D1's listings: all of it is
// removed. (2) If A read after D2, W wrote after the delete ended: all of it stays (a push
// after the delete). (3) Otherwise A read before D0 and B after D2 (both found no fence, and
// no fence stood between D0 and D2), so a whole delete fits between A and B; but D0 to D2
// takes at least the settle and A to B less: impossible. A push that finds a manifest it
// names gone in W (an index's child, or a blob garbage collection swept meanwhile) takes
// its tag back and fails with MANIFEST_BLOB_UNKNOWN; the client pushes again.
//
// Blob uploads are not fenced: a session removed under its writer answers
// BLOB_UPLOAD_UNKNOWN, and a layer link committed during the delete may stay in a
// directory with no _manifests, which is no repository (the next push in it can use it).
// Writers that do not know the fence (distribution's) are not covered.
// Fences name wall-clock expiry times: hosts sharing a store keep their clocks in step.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config/defaults.h"
#include "common/digest.h"
#include "common/names.h"
#include "common/store/store.h"

namespace regfs {

// What a repository holds, and what its delete removes (or would).
struct RepositoryContents {
  std::vector<Tag> tags;
  std::vector<Digest> revisions;
  std::vector<Digest> layers;                        // layer links
  std::vector<std::pair<Digest, Digest>> referrers;  // subject, referrer
  std::vector<UploadInfo> uploads;
};

// What a repository holds now (listing only).
RepositoryContents listRepositoryContents(const Store& store, const RepoName& name);

struct RepositoryDeleteOptions {
  bool dryRun = false;  // list what would go, change nothing (no fence)
  // Between taking the fence and removing anything; never shorter than
  // kRepositoryDeleteSettle, the window pushes confirm themselves in.
  std::chrono::milliseconds settle = kRepositoryDeleteSettle;
  std::string holder;  // names the deleter in the fence; empty: this process
};

// Deletes repository `name` as above and returns what it held. Throws kNameUnknown when
// there is no such repository, kTooManyRequests when another delete of it holds the fence.
RepositoryContents deleteRepository(Store& store, const RepoName& name,
                                    const RepositoryDeleteOptions& options = {});

// What a manifest push wrote, for confirmManifestPush.
struct PushedManifest {
  Digest digest;
  std::string_view bytes;
  std::optional<Tag> tag;
  std::vector<Digest> blobs;      // config and layers: linked in the repository
  std::vector<Digest> manifests;  // an index's children: revisions of the repository
  std::optional<Digest> subject;  // a referrer's subject
};

// The push's side of the fence, after its writes: returns once the push stands whole (or
// was removed whole by a delete that began after it). Throws kManifestBlobUnknown when
// something the push names is gone and cannot be written again (its tag is taken back).
void confirmManifestPush(Store& store, Repository& repo, const PushedManifest& pushed);

}  // namespace regfs
