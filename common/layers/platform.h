#pragma once
// Which image of an index a user means: platforms as text ("linux/arm64/v8") and the child of
// an index that one names. What `regfsctl export --platform` and the files API's ?platform=
// pick images with.

#include <string>
#include <string_view>

#include "common/manifest.h"

namespace regfs::layers {

// "OS/ARCH" or "OS/ARCH/VARIANT" ("linux/arm64/v8"). Throws Error(kInvalidArgument).
Platform parsePlatform(std::string_view text);
// The platform this program was built for, as image indexes name it ("linux/amd64").
Platform hostPlatform();
// "os/architecture[/variant]".
std::string platformString(const Platform& platform);

// The first child of `index` for `wanted` (its os and architecture, and its variant when
// `wanted` has one), or nullptr.
const Descriptor* childFor(const Manifest& index, const Platform& wanted);
// The platforms of `index`'s children for messages: "linux/amd64, linux/arm64/v8", or
// "no platforms".
std::string platformsOf(const Manifest& index);

}  // namespace regfs::layers
