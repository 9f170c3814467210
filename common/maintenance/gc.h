#pragma once
// Garbage collection: distribution's mark and sweep, made safe on a live store.
//
// Mark. In every repository the roots are its revisions, or with deleteUntagged only the
// manifests its tags point at (plus referrers whose subject is kept). From each root
// everything it references is marked: config, layers, and the child manifests of an index,
// recursively, so a child is never "untagged" while its index is kept.
// Sweep. With deleteUntagged, revision links nothing keeps go first (with their tag-history
// entries); then every blob nobody marked, and the layer links that point at it, and the
// layer indexes (common/layers/layer_index.h) of blobs that are gone.
//
// The store is listed once (common/store/walk.h: one listing of the bucket on S3), and the mark
// and the sweep share that listing; links and manifests are read, not listed.
//
// Safe while servers write to the store, without locks and without help from them. Writers
// keep this order (common/store/store.h): blob data before any link to it, a revision link before
// a tag naming it. The collector adds:
//  1. Grace. A blob whose data, or any layer link to it, is younger than `grace` (measured
//     from the start of the run) is kept, and so is a revision link that young: uploads and
//     pushes in progress are never swept, including a re-upload of a blob that already
//     existed (which only writes a fresh layer link).
//  2. Quarantine. A swept blob is first moved, with one rename, to _quarantine/.
//  3. Re-mark. After `settle`, when the run removed anything, the repositories are listed
//     once more (the only other listing): revisions that appeared since the listing, and
//     tags that moved, are marked; a blob that became referenced meanwhile (a writer saw it
//     exist just before the move and linked it) is moved back, the rest is removed. A
//     removed revision that a tag names by then is restored the same way.
//  4. Layer links go last, each only while its blob is still absent and the link still older
//     than the grace.
// A crash leaves at most blobs in _quarantine/, which the next run (or fsck --repair) moves
// back. Writers that check "blob exists" and link to it more than `settle` later can still
// lose the race; the server then refuses the manifest (MANIFEST_BLOB_UNKNOWN) and the
// client uploads again, so nothing is left half-written.

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/config/defaults.h"
#include "common/digest.h"
#include "common/names.h"
#include "common/progress.h"
#include "common/store/store.h"

namespace regfs {

// What one repository's manifests reach.
struct RepositoryMarks {
  RepoName name;
  std::set<Digest> revisions;  // every revision link
  size_t tags = 0;
  std::set<Digest> kept;   // manifests kept: roots and everything they reach
  std::set<Digest> blobs;  // every blob the kept manifests reach, manifests included
};

struct StoreMarks {
  std::vector<RepositoryMarks> repositories;  // in catalog order
  std::unordered_set<Digest> marked;          // the union of every repository's blobs
  std::vector<std::string> warnings;          // e.g. a revision whose manifest blob is missing
};

// The mark phase alone, changing nothing. Throws Error(kManifestInvalid) when a kept
// manifest cannot be read as one: sweeping without knowing its references could lose data.
StoreMarks markStore(const Store& store, bool deleteUntagged, const ProgressFn& progress = {});

struct GcOptions {
  bool dryRun = false;          // report what would go, change nothing
  bool deleteUntagged = false;  // roots are tags, not revisions
  std::chrono::seconds grace = kDefaultMaintenanceGrace;
  std::chrono::milliseconds settle = kDefaultGcSettle;
  ProgressFn progress;
};

struct GcManifest {
  std::string repository;
  Digest digest;
};

struct GcBlob {
  Digest digest;
  uint64_t size = 0;
};

struct GcResult {
  size_t repositories = 0;
  size_t manifestsMarked = 0;  // kept manifests, counted once per repository
  size_t blobsMarked = 0;
  size_t blobsSeen = 0;
  std::vector<GcManifest> manifests;       // untagged revisions removed (or that would be)
  std::vector<GcBlob> blobs;               // blobs removed (or that would be)
  std::vector<GcManifest> layerLinks;      // layer links removed (or that would be)
  std::vector<GcBlob> layerIndexes;        // indexes of layers whose blob is gone, with their size
  std::vector<GcBlob> youngBlobs;          // unreferenced but within the grace: kept
  std::vector<GcManifest> youngManifests;  // untagged but within the grace: kept
  std::vector<Digest> restored;            // referenced again while in quarantine: moved back
  size_t recovered = 0;                    // blobs a crashed run had left in quarantine
  uint64_t bytesFreed = 0;                 // blobs and layer indexes (or that would be)
  std::vector<std::string> warnings;
};

GcResult collectGarbage(Store& store, const GcOptions& options);

// Moves every blob left in _quarantine/ back into blobs/ (or drops it when blobs/ has it
// again). Returns how many entries there were. Safe at any time: it only ever keeps data.
size_t restoreQuarantine(Store& store);

// True when `digest` sits in _quarantine/ (a collection is sweeping it right now).
bool isQuarantined(const Store& store, const Digest& digest);

}  // namespace regfs
