#include "common/browse/image_config.h"

#include <gtest/gtest.h>

namespace regfs::browse {
namespace {

TEST(ImageConfig, ReadsRunSettingsAndHistory) {
  auto c = parseImageConfig(R"({"created":"2026-01-02T03:04:05Z","architecture":"arm64",
    "os":"linux","variant":"v8","config":{"User":"app","WorkingDir":"/srv",
    "Entrypoint":["/bin/sh","-c"],"Cmd":["run"],"Env":["A=1"],
    "ExposedPorts":{"8080/tcp":{}},"Volumes":{"/data":{}},
    "Labels":{"x":"<script>alert(1)</script>","n":3}},
    "history":[{"created":"2026-01-01T00:00:00Z","created_by":"ADD a /"},
               {"created_by":"ENV A=1","empty_layer":true,"comment":"c"}, 7]})");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->created, "2026-01-02T03:04:05Z");
  EXPECT_EQ(c->architecture, "arm64");
  EXPECT_EQ(c->variant, "v8");
  EXPECT_EQ(c->user, "app");
  EXPECT_EQ(c->workingDir, "/srv");
  EXPECT_EQ(c->entrypoint, (std::vector<std::string>{"/bin/sh", "-c"}));
  EXPECT_EQ(c->cmd, (std::vector<std::string>{"run"}));
  EXPECT_EQ(c->exposedPorts, (std::vector<std::string>{"8080/tcp"}));
  EXPECT_EQ(c->volumes, (std::vector<std::string>{"/data"}));
  EXPECT_EQ(c->labels, (std::map<std::string, std::string>{{"x", "<script>alert(1)</script>"}}))
      << "a label that is not a string is left out";
  ASSERT_EQ(c->history.size(), 2u) << "a history entry that is not an object is left out";
  EXPECT_FALSE(c->history[0].emptyLayer);
  EXPECT_EQ(c->history[0].createdBy, "ADD a /");
  EXPECT_TRUE(c->history[1].emptyLayer);
  EXPECT_FALSE(c->history[1].created);
  EXPECT_EQ(c->history[1].comment, "c");
}

TEST(ImageConfig, OddValuesReadEmptyAndNonJsonIsNone) {
  auto c = parseImageConfig(R"({"os":5,"config":[],"history":{},"architecture":"a\u0000b"})");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->os, "");
  EXPECT_TRUE(c->history.empty());
  EXPECT_EQ(c->architecture, std::string("a\0b", 3));
  EXPECT_FALSE(parseImageConfig("[1]"));
  EXPECT_FALSE(parseImageConfig("{"));
  EXPECT_EQ(parseImageConfig("{\"user\":1,\"os\":\"\xff\"}")->os, "\xEF\xBF\xBD");
  EXPECT_FALSE(parseImageConfig(std::string(kMaxImageConfigBytes + 1, ' ')));
}

}  // namespace
}  // namespace regfs::browse
