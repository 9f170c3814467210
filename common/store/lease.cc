#include "common/store/lease.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>

#include "common/error.h"

namespace regfs {
namespace {

// The value of line "<key> <value>" at the front of `text`, which it then drops.
std::optional<std::string_view> takeField(std::string_view& text, std::string_view key) {
  size_t end = text.find('\n');
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view line = text.substr(0, end);
  text.remove_prefix(end + 1);
  if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ' ')
    return std::nullopt;
  return line.substr(key.size() + 1);
}

}  // namespace

std::string formatLease(const LeaseRecord& record) {
  auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(record.expires.time_since_epoch());
  return "holder " + record.holder + "\ntoken " + record.token + "\nexpires " +
         std::to_string(seconds.count()) + "\n";
}

std::optional<LeaseRecord> parseLease(std::string_view text) {
  LeaseRecord record;
  auto holder = takeField(text, "holder");
  auto token = holder ? takeField(text, "token") : std::nullopt;
  auto expires = token ? takeField(text, "expires") : std::nullopt;
  if (!expires || !text.empty() || token->empty()) return std::nullopt;
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(expires->data(), expires->data() + expires->size(), seconds);
  if (ec != std::errc() || end != expires->data() + expires->size()) return std::nullopt;
  record.holder = std::string(*holder);
  record.token = std::string(*token);
  record.expires = std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
  return record;
}

Lease::Lease(std::shared_ptr<StorageDriver> driver, std::string path, std::string holder)
    : driver_(std::move(driver)), path_(std::move(path)), holder_(std::move(holder)) {
  // One line each: a holder name with a newline would make the record unreadable.
  std::erase(holder_, '\n');
}

std::optional<LeaseRecord> Lease::read() const {
  try {
    return parseLease(driver_->read(path_));
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) return std::nullopt;
    throw;
  }
}

std::optional<LeaseRecord> Lease::claim(std::chrono::system_clock::time_point now,
                                        std::chrono::system_clock::duration ttl) {
  if (auto current = read(); current && current->expires > now) return std::nullopt;
  LeaseRecord record{holder_, newLeaseToken(), std::chrono::ceil<std::chrono::seconds>(now + ttl)};
  write(record);
  return record;
}

bool Lease::confirm(const LeaseRecord& claim) const {
  auto current = read();
  return current && current->token == claim.token;
}

void Lease::write(const LeaseRecord& record) { driver_->writeAtomic(path_, formatLease(record)); }

void Lease::release(const LeaseRecord& claim) {
  if (confirm(claim)) driver_->remove(path_);
}

std::string newLeaseToken() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw Error(ErrorKind::kInternal, "RAND_bytes failed");
  std::string out;
  for (unsigned char c : b) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", c);
    out += hex;
  }
  return out;
}

std::string thisProcessHolder() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host) + "/" + std::to_string(::getpid());
}

}  // namespace regfs
