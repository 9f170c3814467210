// ObservedDriver (common/storage/observed_driver.h) names to its observer every path a call
// changed, and none that a call only read (fs_driver_test.cc holds it to the driver contract).
#include "common/storage/observed_driver.h"

#include <gtest/gtest.h>

#include "support/process.h"

namespace regfs::testing {
namespace {

TEST(ObservedDriver, NamesEveryPathAWriteChangedAndNoneAReadTouched) {
  TempDir dir;
  ObservedDriver driver(makeFsDriver(dir.path() / "store"));
  std::vector<std::string> seen;
  driver.observe([&](std::string_view path) { seen.emplace_back(path); });

  driver.writeAtomic("/a/file", "x");
  EXPECT_TRUE(driver.createExclusive("/a/new", "y"));
  driver.openAppend("/a/appended")->commit();
  driver.move("/a/file", "/b/file");
  EXPECT_FALSE(driver.removeEmptyDirectory("/b")) << "it holds a file";
  driver.remove("/a");
  EXPECT_EQ(seen, (std::vector<std::string>{"/a/file", "/a/new", "/a/appended", "/b/file",
                                            "/a/file", "/b", "/a"}));

  seen.clear();
  driver.stat("/b/file");
  driver.statFile("/b/file");
  driver.list("/");
  driver.listTree("/");
  EXPECT_THROW(driver.read("/a/file"), Error);
  EXPECT_TRUE(seen.empty());
}

TEST(ObservedDriver, NamesThePathOfAWriteThatFailed) {
  TempDir dir;
  ObservedDriver driver(makeFsDriver(dir.path() / "store"));
  std::vector<std::string> seen;
  driver.observe([&](std::string_view path) { seen.emplace_back(path); });
  EXPECT_THROW(driver.move("/missing", "/there"), Error);
  EXPECT_EQ(seen, (std::vector<std::string>{"/there", "/missing"}));
}

}  // namespace
}  // namespace regfs::testing
