#pragma once
// StorageDriver over an S3-compatible object store (AWS S3, Ceph radosgw, ...), configured
// with distribution's storage.s3 keys. Object keys are distribution's: the driver path
// under rootdirectory with the leading '/' dropped, so the reference registry on the same
// bucket serves what regfs wrote and the reverse.
//
// Four files: s3_signing.h (Signature Version 4), s3_client.h (requests, retries, answers
// and errors), s3_writer.h (appends) and this one, the StorageDriver over them.
//
// S3 has no directories, appends or renames:
//  - a directory is a key prefix ending in '/'; list() is ListObjectsV2 with a delimiter;
//  - openAppend() writes a multipart upload (s3_writer.h), which any process can resume:
//    it finds the upload in progress by key and lists its parts; commit() completes it
//    into the object;
//  - createExclusive() is a conditional PUT (If-None-Match: *), which radosgw and AWS S3
//    carry out atomically;
//  - readStream() is one GET whose body goes to the caller as it arrives; a failure
//    midway is retried from the first byte not yet handed over;
//  - move() is a server-side copy followed by a delete (object by object for a
//    directory): not atomic. Objects above storage.s3.multipartcopythresholdsize are
//    copied as distribution does, in parts of multipartcopychunksize (UploadPartCopy),
//    multipartcopymaxconcurrency at once: one CopyObject stops at 5 GiB.

#include <memory>
#include <string>
#include <string_view>

#include "common/config/config.h"
#include "common/storage/driver.h"

namespace regfs {

// Connects to the bucket and checks that the credentials can list it; throws
// Error(kConfigInvalid) naming the problem (wrong keys, no such bucket, unreachable).
// With `redirect`, redirectUrl() answers presigned GET URLs (storage.redirect.disable
// false, distribution's default for s3).
std::shared_ptr<StorageDriver> makeS3Driver(const S3StorageConfig& config, bool redirect = false);

// distribution's object key for a driver path: rootdirectory without its trailing '/',
// then the path, with every leading '/' dropped.
std::string s3Key(std::string_view rootdirectory, std::string_view path);

}  // namespace regfs
