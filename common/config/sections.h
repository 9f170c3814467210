#pragma once
// Inside the config loader: one reader per section of config.yml, each in its own file
// (common/config/<section>_section.cc). A reader fills its part of Config from the section's
// value (absent: the defaults config.h states), checks what distribution checks, and throws
// Error(kConfigInvalid) through `reader` naming the key.

#include "common/config/config.h"
#include "common/config/reader.h"

namespace regfs::config {

// log, and the top-level loglevel distribution still reads when log.level is not set.
void readLog(Reader& reader, const Value& v, const Value& deprecatedLevel, LogConfig& log);

// storage: one driver (filesystem or s3), delete, redirect, maintenance.
void readStorage(Reader& reader, const Value& v, StorageConfig& storage);

// http, with its tls, debug and http2 subsections.
void readHttp(Reader& reader, const Value& v, HttpConfig& http);

// auth: at most one provider (htpasswd, token or silly).
void readAuth(Reader& reader, const Value& v, AuthConfig& auth);

// notifications: events and the webhook endpoints.
void readNotifications(Reader& reader, const Value& v, NotificationsConfig& notifications);

// health: the storage driver probe and the file, http and tcp checks.
void readHealth(Reader& reader, const Value& v, HealthConfig& health);

// catalog.maxentries.
void readCatalog(Reader& reader, const Value& v, int& maxEntries);

// regfs: regfs's own keys (indexing.enabled).
void readRegfs(Reader& reader, const Value& v, RegfsConfig& regfs);

// proxy: remoteurl, username, password, ttl (the pull-through cache).
void readProxy(Reader& reader, const Value& v, ProxyConfig& proxy);
// regfs.proxy: upstreams[], each a prefix and the proxy section's keys.
void readPrefixUpstreams(Reader& reader, const Value& v, std::vector<PrefixUpstream>& upstreams);

}  // namespace regfs::config
