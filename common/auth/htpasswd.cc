#include "common/auth/htpasswd.h"

#include <crypt.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/base64.h"
#include "common/error.h"
#include "common/handles.h"
#include "common/unique_fd.h"

namespace regfs {
namespace {

constexpr size_t kMaxCachedUsers = 4096;

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "$2y$NN$" + 53 characters: the cost, or nullopt if this is not a bcrypt hash.
std::optional<int> bcryptCost(std::string_view hash) {
  if (!(startsWith(hash, "$2y$") || startsWith(hash, "$2b$") || startsWith(hash, "$2a$")))
    return std::nullopt;
  if (hash.size() != 60 || hash[6] != '$') return std::nullopt;
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9') return std::nullopt;
  int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 31) return std::nullopt;
  return cost;
}

// What kind of hash a non-bcrypt entry holds, for the warning.
std::string hashKind(std::string_view hash) {
  if (startsWith(hash, "$apr1$")) return "MD5 ($apr1$)";
  if (startsWith(hash, "{SHA}")) return "SHA-1 ({SHA})";
  if (startsWith(hash, "$2")) return "malformed bcrypt";
  if (startsWith(hash, "$")) return "unsupported crypt";
  if (hash.empty()) return "empty";
  return "crypt or plain text";
}

std::string bcryptSetting(int cost) {
  unsigned char random[16];
  if (RAND_bytes(random, sizeof random) != 1)
    throw Error(ErrorKind::kInternal, "no random bytes for a bcrypt salt");
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn("$2y$", static_cast<unsigned long>(cost),
                        reinterpret_cast<const char*>(random), sizeof random, setting,
                        sizeof setting)) {
    throw Error(ErrorKind::kInternal,
                "crypt_gensalt_rn failed for bcrypt cost " + std::to_string(cost));
  }
  return setting;
}

// crypt_rn with a zeroed, heap-allocated crypt_data (it is too big for small stacks).
std::optional<std::string> cryptOnce(std::string_view password, const std::string& setting) {
  if (password.find('\0') != std::string_view::npos) return std::nullopt;
  auto data = std::make_unique<crypt_data>();
  std::string phrase(password);
  const char* out = crypt_rn(phrase.c_str(), setting.c_str(), data.get(), sizeof *data);
  OPENSSL_cleanse(phrase.data(), phrase.size());
  std::optional<std::string> result;
  if (out && out[0] != '*') result = std::string(out);
  OPENSSL_cleanse(data.get(), sizeof *data);
  return result;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// mkdir -p with mode 0700 for the directories it creates; existing ones are left alone.
void makeDirectories(const std::filesystem::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) return;
  if (dir.has_parent_path() && dir.parent_path() != dir) makeDirectories(dir.parent_path());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throwErrno("mkdir", dir.string(), errno);
}

int64_t nanos(const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

}  // namespace

HtpasswdTable parseHtpasswd(std::string_view content) {
  HtpasswdTable table;
  std::map<int, int> costs;  // cost -> entries
  size_t lineNumber = 0;
  while (!content.empty()) {
    ++lineNumber;
    size_t eol = content.find('\n');
    std::string_view raw = content.substr(0, eol);
    content = eol == std::string_view::npos ? std::string_view() : content.substr(eol + 1);
    std::string_view line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    std::string where = "line " + std::to_string(lineNumber) + ": ";
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      table.warnings.push_back(where +
                               (colon == 0 ? "empty user name" : "no ':' between user and hash") +
                               "; line ignored");
      continue;
    }
    std::string user(line.substr(0, colon));
    std::string_view hash = line.substr(colon + 1);
    std::optional<int> cost = bcryptCost(hash);
    if (!cost) {
      table.warnings.push_back(where + "user \"" + user + "\" has a " + hashKind(hash) +
                               " hash; only bcrypt (htpasswd -B) is supported, line ignored");
      continue;
    }
    if (table.hashes.count(user)) {
      table.warnings.push_back(where + "user \"" + user +
                               "\" is listed again; this later line wins");
    }
    table.hashes[user] = std::string(hash);
    ++costs[*cost];
  }
  int best = 0;
  for (auto [cost, count] : costs) {
    if (count >= best) {
      best = count;
      table.commonCost = cost;
    }
  }
  return table;
}

bool bcryptVerify(std::string_view password, std::string_view hash) {
  if (!bcryptCost(hash)) return false;
  std::optional<std::string> computed = cryptOnce(password, std::string(hash));
  return computed && constantTimeEquals(*computed, hash);
}

std::string bcryptHash(std::string_view password, int cost) {
  std::optional<std::string> hash = cryptOnce(password, bcryptSetting(cost));
  if (!hash) throw Error(ErrorKind::kInvalidArgument, "cannot hash this password with bcrypt");
  return *hash;
}

std::optional<BasicCredentials> parseBasicAuthorization(std::string_view headerValue) {
  headerValue = trim(headerValue);
  size_t space = headerValue.find(' ');
  if (space != 5) return std::nullopt;  // after "Basic", or missing (npos)
  std::string scheme(headerValue.substr(0, space));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "basic") return std::nullopt;
  std::string_view encoded = trim(headerValue.substr(space + 1));
  if (encoded.size() > 8192) return std::nullopt;
  std::optional<std::string> decoded = base64Decode(encoded);
  if (!decoded || decoded->find('\0') != std::string::npos) return std::nullopt;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  BasicCredentials credentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
  OPENSSL_cleanse(decoded->data(), decoded->size());
  return credentials;
}

HtpasswdFile::HtpasswdFile(std::filesystem::path path) : path_(std::move(path)) {
  unsigned char key[32];
  if (RAND_bytes(key, sizeof key) != 1) throw Error(ErrorKind::kInternal, "no random bytes");
  cacheKey_.assign(reinterpret_cast<const char*>(key), sizeof key);
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    throw Error(ErrorKind::kConfigInvalid,
                "auth.htpasswd.path: cannot read " + path_.string() + ": " + std::strerror(errno));
  }
  Identity identity{st.st_dev, st.st_ino, st.st_size, nanos(st.st_mtim), nanos(st.st_ctim)};
  std::shared_ptr<const Snapshot> snapshot = load();
  if (!snapshot) {
    throw Error(ErrorKind::kConfigInvalid,
                "auth.htpasswd.path: cannot read " + path_.string() + ": " + std::strerror(errno));
  }
  identity_ = identity;
  snapshot_ = std::move(snapshot);
}

// Reads and parses the file; nullptr (errno set) if it cannot be read.
std::shared_ptr<const HtpasswdFile::Snapshot> HtpasswdFile::load() {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return nullptr;
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return nullptr;
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->table = parseHtpasswd(content.str());
  std::string text = content.str();
  OPENSSL_cleanse(text.data(), text.size());
  // A setting plus any 31 characters is a well-formed hash that no password matches
  // (crypt reads only the setting); checking it costs what checking a real one does.
  snapshot->dummyHash = bcryptSetting(snapshot->table.commonCost) + std::string(31, 'e');
  for (const std::string& warning : snapshot->table.warnings)
    spdlog::warn("htpasswd {}: {}", path_.string(), warning);
  if (snapshot->table.hashes.empty())
    spdlog::warn("htpasswd {}: no usable users; every login fails", path_.string());
  spdlog::info("htpasswd {}: {} user(s) loaded", path_.string(), snapshot->table.hashes.size());
  return snapshot;
}

std::shared_ptr<const HtpasswdFile::Snapshot> HtpasswdFile::current() {
  std::lock_guard lock(mutex_);
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    if (!reportedUnreadable_) {
      spdlog::warn("htpasswd {}: cannot stat ({}); keeping the users last read", path_.string(),
                   std::strerror(errno));
      reportedUnreadable_ = true;
    }
    return snapshot_;
  }
  Identity identity{st.st_dev, st.st_ino, st.st_size, nanos(st.st_mtim), nanos(st.st_ctim)};
  if (identity == identity_) return snapshot_;
  std::shared_ptr<const Snapshot> snapshot = load();
  if (!snapshot) {
    if (!reportedUnreadable_) {
      spdlog::warn("htpasswd {}: cannot read ({}); keeping the users last read", path_.string(),
                   std::strerror(errno));
      reportedUnreadable_ = true;
    }
    return snapshot_;
  }
  reportedUnreadable_ = false;
  identity_ = identity;
  snapshot_ = std::move(snapshot);
  verified_.clear();
  return snapshot_;
}

bool HtpasswdFile::verify(std::string_view user, std::string_view password) {
  std::shared_ptr<const Snapshot> snapshot = current();
  auto it = snapshot->table.hashes.find(user);
  const std::string& hash = it != snapshot->table.hashes.end() ? it->second : snapshot->dummyHash;

  // HMAC(key, hash || 0 || password): binds the cached proof to this exact hash.
  std::string message = hash;
  message.push_back('\0');
  message.append(password);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int macLength = 0;
  HMAC(EVP_sha256(), cacheKey_.data(), static_cast<int>(cacheKey_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &macLength);
  OPENSSL_cleanse(message.data(), message.size());
  std::string proof(reinterpret_cast<const char*>(mac), macLength);

  if (it != snapshot->table.hashes.end()) {
    std::lock_guard lock(mutex_);
    auto cached = verified_.find(user);
    if (cached != verified_.end() && snapshot == snapshot_ &&
        constantTimeEquals(cached->second, proof))
      return true;
  }
  bool ok = bcryptVerify(password, hash) && it != snapshot->table.hashes.end();
  if (ok) {
    std::lock_guard lock(mutex_);
    if (snapshot == snapshot_) {
      if (verified_.size() >= kMaxCachedUsers) verified_.clear();
      verified_[std::string(user)] = proof;
    }
  }
  return ok;
}

std::vector<std::string> HtpasswdFile::warnings() { return current()->table.warnings; }

std::optional<std::string> ensureHtpasswdFile(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) return std::nullopt;
  if (errno != ENOENT) throwErrno("stat", path.string(), errno);

  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  makeDirectories(dir);

  unsigned char secret[32];
  if (RAND_bytes(secret, sizeof secret) != 1)
    throw Error(ErrorKind::kInternal, "no random bytes for a password");
  std::string password =
      base64UrlEncode(std::string_view(reinterpret_cast<const char*>(secret), sizeof secret));
  OPENSSL_cleanse(secret, sizeof secret);
  std::string content = "docker:" + bcryptHash(password, 10) + "\n";

  // Write a temporary file in the same directory, then link() it into place: link fails
  // if the name exists, so a file someone else created meanwhile is never replaced.
  std::string tmp = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) throwErrno("create", tmp, errno);
  TempFile unlinkTmp(tmp);  // linked into place below, or left: removed either way
  if (::fchmod(fd.get(), 0600) != 0) throwErrno("chmod", tmp, errno);
  for (size_t done = 0; done < content.size();) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throwErrno("write", tmp, errno);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) throwErrno("fsync", tmp, errno);
  fd.reset();
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    if (errno == EEXIST) return std::nullopt;
    throwErrno("create", path.string(), errno);
  }
  UniqueFd dirFd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirFd || ::fsync(dirFd.get()) != 0) throwErrno("fsync", dir.string(), errno);
  return password;
}

}  // namespace regfs
