#pragma once
// A lease in the store: a small object saying who holds something and until when, for what
// several processes, on several hosts, share through the store alone (a repository delete's
// fence, the scheduled garbage collection's turn). Its holder writes it whole
// (StorageDriver::writeAtomic); a holder that dies lets it expire. Times are wall-clock
// (UTC seconds): hosts sharing a store keep their clocks in step, as they must for the
// grace of garbage collection too.
//
// Taking a lease is a claim and a confirmation, with a settle between them (the caller
// waits). Neither S3 nor a shared file system offers "replace if it is still what I read",
// so two processes that both find the lease free may both write it:
//   claim:   read; if an unexpired lease is there, give up; else write (holder, expiry, a
//            token unique to this claim);
//   settle:  wait;
//   confirm: read again; the lease is ours iff it still holds our token.
// Of claims that race, the last write wins and every other claimant reads someone else's
// token at its confirmation. A claimant that read "free" and writes only after another's
// confirmation (slower than the settle between its own read and write) would also confirm:
// the settle must exceed any such pause, as garbage collection's settle does (gc.h). What a
// lease guards must therefore be safe, only wasteful, when done twice at once.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/storage/driver.h"

namespace regfs {

struct LeaseRecord {
  std::string holder;  // who: free text, one line (a host name, a process id)
  std::string token;   // unique to one claim
  std::chrono::system_clock::time_point expires;
  friend bool operator==(const LeaseRecord&, const LeaseRecord&) = default;
};

// "holder <holder>\ntoken <token>\nexpires <unix seconds>\n".
std::string formatLease(const LeaseRecord& record);
// nullopt for anything else (a damaged lease counts as none).
std::optional<LeaseRecord> parseLease(std::string_view text);

class Lease {
 public:
  // The lease at `path` (a layout.h path), taken as `holder`.
  Lease(std::shared_ptr<StorageDriver> driver, std::string path, std::string holder);

  // What is there now; nullopt when nothing (or nothing readable) is.
  std::optional<LeaseRecord> read() const;
  // Writes a claim expiring at now + `ttl`, unless an unexpired lease is there (anyone's,
  // this holder's too: a lease is not taken twice in its term). The claim, or nullopt.
  std::optional<LeaseRecord> claim(std::chrono::system_clock::time_point now,
                                   std::chrono::system_clock::duration ttl);
  // True when the lease still holds `claim` (read back after the settle).
  bool confirm(const LeaseRecord& claim) const;
  // Writes `record` as it is (no claim): for a holder extending its own term.
  void write(const LeaseRecord& record);
  // Removes the lease if it still holds `claim`.
  void release(const LeaseRecord& claim);

 private:
  std::shared_ptr<StorageDriver> driver_;
  std::string path_;
  std::string holder_;
};

// A unique token (random, hex).
std::string newLeaseToken();
// "<host name>/<process id>", to name a holder in a lease.
std::string thisProcessHolder();

}  // namespace regfs
