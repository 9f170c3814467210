// Finding a mount's device in /proc/self/mountinfo, where regfs-mount sets its read-ahead.

#include "fs/read_ahead.h"

#include <gtest/gtest.h>

namespace regfs::view {
namespace {

constexpr std::string_view kMountinfo =
    "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "40 22 0:39 / /srv/view rw,nosuid shared:20 - fuse.regfs regfs rw,user_id=0\n"
    "41 22 0:40 / /srv/view2 rw,nosuid shared:21 - fuse.regfs regfs rw,user_id=0\n"
    "45 22 0:44 / /srv/a\\040b\\134c rw,nosuid shared:22 - fuse.regfs regfs rw,user_id=0\n"
    "47 40 0:46 / /srv/view rw,nosuid shared:23 - fuse.regfs regfs rw,user_id=0\n";

TEST(MountedDeviceTest, TheNewestMountAtThePathIsTheOneOnTop) {
  EXPECT_EQ(mountedDevice(kMountinfo, "/srv/view"), "0:46");
  EXPECT_EQ(mountedDevice(kMountinfo, "/srv/view2"), "0:40");
  EXPECT_EQ(mountedDevice(kMountinfo, "/"), "254:0");
}

TEST(MountedDeviceTest, EscapedMountPointsMatchTheirPath) {
  EXPECT_EQ(mountedDevice(kMountinfo, "/srv/a b\\c"), "0:44");
  EXPECT_EQ(mountedDevice(kMountinfo, "/srv/a\\040b\\134c"), std::nullopt);
}

TEST(MountedDeviceTest, OnlyTheWholePathMatches) {
  EXPECT_EQ(mountedDevice(kMountinfo, "/srv"), std::nullopt);
  EXPECT_EQ(mountedDevice(kMountinfo, "/srv/vie"), std::nullopt);
  EXPECT_EQ(mountedDevice(kMountinfo, "/srv/view/"), std::nullopt);
  EXPECT_EQ(mountedDevice("", "/srv/view"), std::nullopt);
  EXPECT_EQ(mountedDevice("garbage\n", "/srv/view"), std::nullopt);
}

}  // namespace
}  // namespace regfs::view
