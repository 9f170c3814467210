// The regfsctl command line: dispatch, --help/--version, one-line errors, --json output,
// ROOT as a rootdirectory or a config.yml.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <map>

#include "common/store/layout.h"
#include "common/view/names.h"
#include "support/process.h"
#include "support/store_builder.h"
#include "support/tar_writer.h"

namespace regfs {
namespace {

using namespace regfs::testing;
using namespace std::chrono_literals;

rapidjson::Document json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  EXPECT_FALSE(doc.HasParseError()) << text;
  return doc;
}

TEST(RegfsctlTest, HelpVersionAndErrors) {
  auto r = regfsctl({"--help"});
  EXPECT_EQ(r.status, 0);
  for (const char* command : {"garbage-collect", "fsck", "du", "purge-uploads", "delete-repo"}) {
    EXPECT_NE(r.out.find(command), std::string::npos) << command;
  }
  r = regfsctl({"--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("regfsctl ", 0), 0u) << r.out;
  EXPECT_EQ(regfsctl({"garbage-collect", "--help"}).status, 0);

  r = regfsctl({"no-such-command"});
  EXPECT_EQ(r.status, 2);
  r = regfsctl({"fsck"});
  EXPECT_EQ(r.status, 2) << "ROOT is required";
  EXPECT_NE(r.err.find("ROOT"), std::string::npos) << r.err;

  TempDir dir;
  r = regfsctl({"du", (dir / "missing").string()});
  EXPECT_EQ(r.status, 66) << "EX_NOINPUT: ROOT is missing";
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("regfsctl du: ", 0), 0u) << r.err;
  r = regfsctl({"garbage-collect", dir.path().string(), "--grace", "soon"});
  EXPECT_EQ(r.status, 2) << "a bad argument";
  EXPECT_NE(r.err.find("--grace soon is not a duration"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

// Every file and symlink under `root` with its content (a symlink: "-> target").
std::map<std::string, std::string> snapshot(const std::filesystem::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    std::string rel = std::filesystem::relative(e.path(), root).string();
    if (e.is_symlink()) {
      out[rel] = "-> " + std::filesystem::read_symlink(e.path()).string();
    } else if (e.is_regular_file()) {
      out[rel] = readFile(e.path());
    }
  }
  return out;
}

class RegfsctlStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Repository app = store.repository(RepoName::parse("team/app"));
    Repository tools = store.repository(RepoName::parse("team/tools"));
    BuiltImage a = pushImage(store, app, {"shared base", "app layer"});
    app.putTag(Tag::parse("v1"), a.manifest);
    BuiltImage b = pushImage(store, tools, {"shared base", "tools layer"});
    tools.putTag(Tag::parse("v1"), b.manifest);
    untagged = pushImage(store, tools, {"untagged layer"});
    orphan = store.putBlob("orphan blob");
    ageTree(dir.path(), 2h);
  }
  TempDir dir;
  Store store = Store::openLocal(dir.path());
  BuiltImage untagged{Digest::of(""), Digest::of(""), {}, {}};
  Digest orphan = Digest::of("");
};

TEST_F(RegfsctlStoreTest, DuReportsSharedUniqueAndWhatGarbageCollectionFrees) {
  auto r = regfsctl({"du", dir.path().string(), "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto doc = json(r.out);
  const auto& repos = doc["repositories"];
  ASSERT_EQ(repos.Size(), 2u);
  EXPECT_STREQ(repos[0]["name"].GetString(), "team/app");
  uint64_t shared = std::string("shared base").size();
  EXPECT_EQ(repos[0]["sharedBytes"].GetUint64(), shared);
  EXPECT_EQ(repos[1]["sharedBytes"].GetUint64(), shared);
  EXPECT_EQ(repos[1]["manifests"].GetUint64(), 2u);
  EXPECT_EQ(repos[0]["bytes"].GetUint64(),
            repos[0]["uniqueBytes"].GetUint64() + repos[0]["sharedBytes"].GetUint64());
  EXPECT_EQ(doc["gcFrees"].GetUint64(), std::string("orphan blob").size());
  uint64_t untaggedBytes = untagged.bytes.size() + std::string("untagged layer").size() +
                           store.statBlob(untagged.config)->size;
  EXPECT_EQ(doc["gcDeleteUntaggedFrees"].GetUint64(), doc["gcFrees"].GetUint64() + untaggedBytes);

  r = regfsctl({"du", dir.path().string()});
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("REPOSITORY", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("team/tools"), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << "no progress bar in a pipe: " << r.err;
}

TEST_F(RegfsctlStoreTest, GarbageCollectJsonAndAConfigAsRoot) {
  writeFile(dir / "config.yml", "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " +
                                    dir.path().string() + "\n");
  auto r = regfsctl({"garbage-collect", (dir / "config.yml").string(), "--delete-untagged",
                     "--json", "--grace", "1h", "--settle", "0s"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto doc = json(r.out);
  ASSERT_EQ(doc["manifests"].Size(), 1u);
  EXPECT_EQ(std::string(doc["manifests"][0]["digest"].GetString()), untagged.manifest.str());
  EXPECT_EQ(doc["blobs"].Size(), 4u);
  EXPECT_FALSE(store.statBlob(orphan));
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST_F(RegfsctlStoreTest, PurgeUploadsTakesItsAgeFromTheConfig) {
  Repository app = store.repository(RepoName::parse("team/app"));
  std::string uuid = app.startUpload();
  auto started = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() - 3h);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&started));
  store.driver().writeAtomic(layout::uploadStartedAt(app.name(), uuid), buf);
  writeFile(dir / "config.yml",
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " + dir.path().string() +
                "\n  maintenance:\n    uploadpurging:\n      age: 2h\n");
  auto r = regfsctl({"purge-uploads", dir.path().string(), "--dry-run"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("would purge 0 of 1 upload sessions older than 168h"), std::string::npos)
      << r.out;
  r = regfsctl({"purge-uploads", (dir / "config.yml").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("purged team/app upload " + uuid), std::string::npos) << r.out;
  EXPECT_FALSE(app.statUpload(uuid));
}

TEST_F(RegfsctlStoreTest, DeleteRepoListsWhatGoesAndGarbageCollectTakesItsBlobsAfter) {
  Repository app = store.repository(RepoName::parse("team/app"));
  Digest appManifest = *app.resolveTag(Tag::parse("v1"));
  auto r = regfsctl({"delete-repo", dir.path().string(), "team/app", "--dry-run", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto doc = json(r.out);
  EXPECT_STREQ(doc["repository"].GetString(), "team/app");
  EXPECT_TRUE(doc["dryRun"].GetBool());
  ASSERT_EQ(doc["tags"].Size(), 1u);
  EXPECT_STREQ(doc["tags"][0].GetString(), "v1");
  ASSERT_EQ(doc["manifests"].Size(), 1u);
  EXPECT_EQ(doc["manifests"][0].GetString(), appManifest.str());
  EXPECT_EQ(doc["layers"].Size(), 3u);
  EXPECT_TRUE(app.exists()) << "a dry run changes nothing";

  r = regfsctl({"delete-repo", dir.path().string(), "team/app"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("deleted tag team/app:v1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("deleted repository team/app: 1 tags, 1 manifests, 3 layer links"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(app.exists());
  EXPECT_EQ(store.catalog(10), std::vector<std::string>{"team/tools"});

  r = regfsctl({"delete-repo", dir.path().string(), "team/app"});
  EXPECT_EQ(r.status, 66) << "EX_NOINPUT: no such repository";
  EXPECT_NE(r.err.find("team/app"), std::string::npos) << r.err;
  EXPECT_EQ(regfsctl({"delete-repo", dir.path().string(), "Bad..Name"}).status, 65);

  // Its own blobs go at the next collection; the one team/tools shares stays.
  r = regfsctl({"garbage-collect", dir.path().string(), "--grace", "1m", "--settle", "0s"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(store.statBlob(appManifest));
  EXPECT_FALSE(store.statBlob(Digest::of("app layer")));
  EXPECT_TRUE(store.statBlob(Digest::of("shared base")));
  Repository tools = store.repository(RepoName::parse("team/tools"));
  EXPECT_TRUE(store.statBlob(*tools.resolveTag(Tag::parse("v1"))));
}

TEST_F(RegfsctlStoreTest, FsckExitStatusSaysWhetherTheStoreIsClean) {
  auto r = regfsctl({"fsck", dir.path().string()});
  EXPECT_EQ(r.status, 0) << r.out;
  writeFile(dir.path().string() + layout::blobData(orphan), "flipped");
  r = regfsctl({"fsck", dir.path().string(), "--json"});
  EXPECT_EQ(r.status, 4);
  auto doc = json(r.out);
  EXPECT_FALSE(doc["clean"].GetBool());
  ASSERT_EQ(doc["problems"].Size(), 1u);
  EXPECT_STREQ(doc["problems"][0]["kind"].GetString(), "corrupt-blob");
  EXPECT_EQ(std::string(doc["problems"][0]["path"].GetString()),
            dir.path().string() + layout::blobData(orphan));
  r = regfsctl({"fsck", dir.path().string(), "--repair"});
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("[repaired]"), std::string::npos) << r.out;
  EXPECT_EQ(regfsctl({"fsck", dir.path().string()}).status, 0);
}

TEST_F(RegfsctlStoreTest, FsckReportsMalformedLinksAndSymlinksAndRepairsOnlyInsideTheStore) {
  TempDir outside;
  std::string root = dir.path().string();
  std::string tagLink =
      root + layout::tagCurrentLink(RepoName::parse("team/app"), Tag::parse("broken"));
  writeFile(tagLink, "garbage");
  // A repository directory that is a symlink to a copy of one outside the store, holding a
  // malformed tag link and a layer link to a missing blob: what repair removes in the store.
  RepoName tools = RepoName::parse("team/tools"), evil = RepoName::parse("team/evil");
  std::filesystem::copy(root + layout::repositoryDir(tools), outside / "tools",
                        std::filesystem::copy_options::recursive);
  writeFile(outside / "tools/_manifests/tags/x/current/link", "garbage");
  Digest missing = Digest::of("never stored");
  writeFile(outside / ("tools/_layers/sha256/" + missing.hex() + "/link"), missing.str());
  std::string evilDir = root + layout::repositoryDir(evil);
  std::filesystem::create_directory_symlink(outside / "tools", evilDir);
  auto before = snapshot(outside.path());

  auto r = regfsctl({"fsck", root});
  EXPECT_EQ(r.status, 4) << r.out;
  EXPECT_NE(r.out.find("malformed-link " + tagLink + ": holds \"garbage\", not a digest\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("symlink " + evilDir + ": "), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3)
      << "two problems and the summary: " << r.out;
  r = regfsctl({"fsck", root, "--json"});
  EXPECT_EQ(r.status, 4);
  auto doc = json(r.out);
  ASSERT_EQ(doc["problems"].Size(), 2u) << r.out;
  std::map<std::string, std::string> kinds;
  for (const auto& p : doc["problems"].GetArray()) {
    kinds[p["path"].GetString()] = p["kind"].GetString();
  }
  EXPECT_EQ(kinds[tagLink], "malformed-link");
  EXPECT_EQ(kinds[evilDir], "symlink");

  r = regfsctl({"fsck", root, "--repair", "--grace", "0s"});
  EXPECT_EQ(r.status, 4) << "the symlink is left for the operator: " << r.out;
  EXPECT_NE(
      r.out.find("malformed-link " + tagLink + ": holds \"garbage\", not a digest [repaired]"),
      std::string::npos)
      << r.out;
  EXPECT_FALSE(std::filesystem::exists(tagLink));
  EXPECT_TRUE(std::filesystem::is_symlink(evilDir));
  EXPECT_EQ(snapshot(outside.path()), before) << "nothing outside the store changed";
}

TEST_F(RegfsctlStoreTest, DuAndGarbageCollectNeverGoThroughASymlink) {
  TempDir outside;
  std::string root = dir.path().string();
  std::filesystem::copy(root + layout::repositoryDir(RepoName::parse("team/tools")),
                        outside / "tools", std::filesystem::copy_options::recursive);
  std::filesystem::create_directory_symlink(
      outside / "tools", root + layout::repositoryDir(RepoName::parse("team/evil")));
  writeFile(outside / "hostname", "not a blob");
  std::filesystem::remove(root + layout::blobData(orphan));
  std::filesystem::create_symlink(outside / "hostname", root + layout::blobData(orphan));
  auto before = snapshot(outside.path());

  auto r = regfsctl({"du", root, "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto doc = json(r.out);
  std::vector<std::string> names;
  for (const auto& repo : doc["repositories"].GetArray()) names.push_back(repo["name"].GetString());
  EXPECT_EQ(names, (std::vector<std::string>{"team/app", "team/tools"}));
  EXPECT_EQ(doc["gcFrees"].GetUint64(), 0u) << "the symlinked blob is no blob";

  r = regfsctl({"garbage-collect", root, "--delete-untagged", "--grace", "0s", "--settle", "0s"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(snapshot(outside.path()), before) << "nothing outside the store changed";
  EXPECT_FALSE(store.repository(RepoName::parse("team/tools")).hasManifest(untagged.manifest));
}

}  // namespace
}  // namespace regfs

namespace regfs {
namespace {

TEST_F(RegfsctlStoreTest, IndexBuildsWhatIsMissingAndSaysWhatCannotBeRead) {
  Repository files = store.repository(RepoName::parse("team/files"));
  std::string tar = TarWriter().dir("etc/").file("etc/os-release", "ID=test\n").end().bytes();
  BuiltImage image = pushImage(store, files, {tar});
  files.putTag(Tag::parse("v1"), image.manifest);
  std::string root = dir.path().string();

  auto r = regfsctl({"index", root, "team/files:v1", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto doc = json(r.out);
  ASSERT_EQ(doc["layers"].Size(), 1u);
  EXPECT_STREQ(doc["layers"][0]["state"].GetString(), "indexed");
  EXPECT_EQ(doc["layers"][0]["entries"].GetUint64(), 2u);
  EXPECT_STREQ(doc["layers"][0]["compression"].GetString(), "none");
  EXPECT_TRUE(store.driver().stat(layout::layerIndexFile(image.layers[0])));

  r = regfsctl({"index", root, "team/files@" + image.manifest.str()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("present " + image.layers[0].str(), 0), 0u) << r.out;
  r = regfsctl({"index", root, "team/files", "--force"});
  EXPECT_EQ(r.out.rfind("indexed " + image.layers[0].str(), 0), 0u) << r.out;

  // Every image of the store: the other layers are no tars.
  r = regfsctl({"index", root});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("unreadable " + untagged.layers[0].str() + ": tar:"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("5 layers: 4 indexed now, 4 unreadable or missing"), std::string::npos)
      << r.out;

  r = regfsctl({"index", root, "team/nothing:v1"});
  EXPECT_EQ(r.status, 66) << "EX_NOINPUT";
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = regfsctl({"index", root, "team/files:v2"});
  EXPECT_EQ(r.status, 66) << r.err;
  r = regfsctl({"index", root, "Team/Files"});
  EXPECT_EQ(r.status, 65) << "EX_DATAERR: " << r.err;
}

// A copy of the view holding one tagged image, as `rsync -aH MOUNT/ BACKUP/` writes it.
// Returns the image's manifest digest.
Digest writeViewCopy(const std::filesystem::path& backup, Store& source) {
  Repository repo = source.repository(RepoName::parse("team/app"));
  BuiltImage image = pushImage(source, repo, {"the only layer"});
  std::filesystem::path repoDir = backup / "team/app";
  std::filesystem::path manifestDir = repoDir / view_names::manifestDir(image.manifest);
  std::filesystem::create_directories(manifestDir / view_names::kLayersDir);
  writeFile(manifestDir / view_names::kManifestFile, image.bytes);
  writeFile(manifestDir / view_names::kConfigFile, source.readBlob(image.config));
  writeFile(manifestDir / view_names::kLayersDir /
                view_names::layerFile(0, 1, image.layers[0], ".tar.gz"),
            "the only layer");
  std::filesystem::create_symlink(view_names::manifestDir(image.manifest), repoDir / "v1");
  return image.manifest;
}

TEST(RegfsctlRestoreTest, RootIsADirectoryOrAConfigAsForTheOtherCommands) {
  TempDir dir;
  Store source = Store::openLocal(dir / "source");
  std::filesystem::path backup = dir / "backup";
  Digest manifest = writeViewCopy(backup, source);
  auto restoredTag = [](const std::filesystem::path& root) {
    Store store = Store::openLocal(root);
    std::optional<Digest> tagged =
        store.repository(RepoName::parse("team/app")).resolveTag(Tag::parse("v1"));
    return tagged ? tagged->str() : "no tag";
  };

  // A config.yml names the new store's rootdirectory.
  std::filesystem::path restored = dir / "restored";
  std::filesystem::path config = dir / "config.yml";
  writeFile(config, "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " +
                        restored.string() + "\n");
  auto r = regfsctl({"restore", backup.string(), config.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(restored.string()), std::string::npos) << r.out;
  EXPECT_EQ(restoredTag(restored), manifest.str());
  EXPECT_TRUE(std::filesystem::is_regular_file(config)) << "the config is read, not replaced";

  // Its rootdirectory now holds a store: refused as any non-empty ROOT is.
  r = regfsctl({"restore", backup.string(), config.string()});
  EXPECT_EQ(r.status, 2) << "a bad argument";
  EXPECT_NE(r.err.find(restored.string() + ": exists and is not empty"), std::string::npos)
      << r.err;

  // REGISTRY_* apply to the config, as for the other commands.
  std::filesystem::path overridden = dir / "overridden";
  r = run({(binDir() / "regfsctl").string(), "restore", backup.string(), config.string()},
          {{"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", overridden.string()}});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(restoredTag(overridden), manifest.str());

  // A directory, as before.
  r = regfsctl({"restore", backup.string(), (dir / "plain").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(restoredTag(dir / "plain"), manifest.str());

  // A config of an S3 store has no directory to restore into.
  std::filesystem::path s3 = dir / "s3.yml";
  writeFile(s3, "version: 0.1\nstorage:\n  s3:\n    bucket: b\n    region: us-east-1\n");
  r = regfsctl({"restore", backup.string(), s3.string()});
  EXPECT_EQ(r.status, 78) << "EX_CONFIG: " << r.err;
  EXPECT_NE(r.err.find("not filesystem"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace regfs
