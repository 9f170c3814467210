#pragma once
// htpasswd files as `htpasswd -B` writes them, for auth.htpasswd.
//
// Format: one "user:hash" per line. Blank lines and lines starting with '#' are skipped;
// surrounding whitespace (including the '\r' of CRLF files) is trimmed. Only bcrypt
// hashes ($2y$, $2b$, $2a$) are accepted, as in distribution. A line with another kind
// of hash (MD5 "$apr1$", "{SHA}", crypt) or without ':' is skipped with a warning that
// names the line number and never the hash. A user listed twice keeps the later line
// (distribution's behaviour), with a warning.
//
// HtpasswdFile checks the file's identity (inode, size, mtime, ctime) on every call and
// re-reads it when it changed, so `htpasswd -B` edits apply without a restart (a file
// rewritten in place can be caught half-written for an instant; that fails closed). All its
// methods are thread-safe; bcrypt runs outside its lock. Docker sends Basic credentials
// with every request, so a successful check is remembered (as an HMAC under a random
// per-process key, never the password) until the file changes, which saves a bcrypt per
// request (docs/benchmarks.md, "Measured facts behind design choices").

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace regfs {

struct HtpasswdTable {
  std::map<std::string, std::string, std::less<>> hashes;  // user -> bcrypt hash
  std::vector<std::string> warnings;                       // "line 3: ..." (no secrets)
  int commonCost = 10;  // the bcrypt cost most entries use; unknown users cost this much
};

// Parses file content; never throws on bad lines (they become warnings).
HtpasswdTable parseHtpasswd(std::string_view content);

// True if `password` matches the bcrypt `hash` ($2y$/$2b$/$2a$). Thread-safe; the final
// comparison is constant-time. A malformed hash is false.
bool bcryptVerify(std::string_view password, std::string_view hash);

// A bcrypt hash ($2y$, `cost` 4..31) of `password` with a random salt.
std::string bcryptHash(std::string_view password, int cost = 10);

// Credentials from an "Authorization: Basic <base64(user:password)>" header value. The
// scheme is case-insensitive; nullopt for any other scheme, bad base64, no ':', an empty
// user, or a NUL byte. The password may contain ':'; the user cannot.
struct BasicCredentials {
  std::string user;
  std::string password;
};
std::optional<BasicCredentials> parseBasicAuthorization(std::string_view headerValue);

class HtpasswdFile {
 public:
  // Reads `path` now; throws Error(kConfigInvalid) if it cannot be read.
  explicit HtpasswdFile(std::filesystem::path path);

  // True if `user` is in the file with a bcrypt hash that `password` matches. An unknown
  // user costs one bcrypt of the file's common cost, like a known one. Re-reads the file
  // first if it changed; if it has become unreadable, the last good content stays in
  // force and a warning is logged.
  bool verify(std::string_view user, std::string_view password);

  // Warnings of the last read (bad lines, ignored hash kinds), already logged.
  std::vector<std::string> warnings();
  const std::filesystem::path& path() const { return path_; }

 private:
  struct Identity {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    int64_t mtimeNs = 0;
    int64_t ctimeNs = 0;
    friend bool operator==(const Identity&, const Identity&) = default;
  };
  struct Snapshot {
    HtpasswdTable table;
    std::string dummyHash;  // a hash of the common cost that nothing matches, for unknown users
  };
  std::shared_ptr<const Snapshot> current();
  std::shared_ptr<const Snapshot> load();

  std::filesystem::path path_;
  std::mutex mutex_;
  Identity identity_;
  std::shared_ptr<const Snapshot> snapshot_;
  bool reportedUnreadable_ = false;
  std::string cacheKey_;                                      // random, per process
  std::map<std::string, std::string, std::less<>> verified_;  // user -> HMAC(hash, password)
};

// Distribution 3's first-start convenience: if `path` does not exist, create it (and its
// parent directories, mode 0700) with the user "docker" and a random password, atomically
// and with mode 0600, and return that password so the caller can log it once. Returns
// nullopt if the file already exists (also when another process created it first).
// Throws Error(kIo...) if it cannot be created.
std::optional<std::string> ensureHtpasswdFile(const std::filesystem::path& path);

}  // namespace regfs
