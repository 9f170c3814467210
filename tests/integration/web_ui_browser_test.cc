// The web UI in a real browser: regfs-server on a free port with images pushed by skopeo (one
// with hostile labels, annotations, history and file names, a multi-platform index with an
// SBOM referring to it, namespaces, an untagged manifest) and by docker (an image docker
// built, a manifest list of two platforms), then tests/browser/ui.test.mjs
// drives Debian's headless Chromium through every view, the delete flow, deep links after a
// reload and, on a second server, the htpasswd sign-in. The run leaves its screenshots in
// <build>/ui-screenshots, or where REGFS_UI_SCREENSHOTS says (docs/images for the README's).

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "support/dockerd.h"
#include "support/http_client.h"
#include "support/image.h"
#include "support/nginx.h"
#include "support/process.h"
#include "support/server.h"
#include "support/store_builder.h"
#include "support/tls.h"

namespace regfs::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kBrowserDir = fs::path(REGFS_SOURCE_DIR) / "tests/browser";

// Fails the test loudly when what the browser tests need is missing.
void requireBrowserStack() {
  ASSERT_EQ(run({"node", "--version"}).status, 0) << "node is missing: run scripts/setup.sh";
  ASSERT_TRUE(fs::exists("/usr/bin/chromium")) << "chromium is missing: run scripts/setup.sh";
  ASSERT_TRUE(fs::exists(kBrowserDir / "node_modules/playwright-core"))
      << "playwright-core is missing: run scripts/setup.sh (npm ci in tests/browser)";
}

CommandResult runBrowser(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"node", (kBrowserDir / "ui.test.mjs").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

// An image whose every user-controlled value would run script if it were read as HTML.
Blob hostileImage(OciLayout& oci) {
  Blob files = oci.addLayer({
      {"hello.txt", "hello from regfs\n"},
      {"etc/os-release", "ID=regfs-test\n"},
      {"<img src=x onerror=window.pwned=4>.txt", "a name to show as text\n"},
      {"www/evil.html", "<html><script>window.pwned=5</script><h1>never rendered</h1></html>\n"},
  });
  Blob more = oci.addLayer({{"srv/app.sh", "#!/bin/sh\necho app\n"}});
  ImageExtras extras;
  extras.containerConfig =
      R"({"User":"app","WorkingDir":"/srv","Env":["PATH=/usr/bin"],"Entrypoint":["/bin/sh"],)"
      R"("Cmd":["-c","/srv/app.sh"],"ExposedPorts":{"8080/tcp":{}},)"
      R"("Labels":{"title":"<img src=x onerror=window.pwned=1>"}})";
  extras.configFields =
      R"(,"created":"2026-12-01T00:00:00Z","history":[)"
      R"({"created":"2026-12-01T00:00:00Z","created_by":"ADD files /"},)"
      R"({"created":"2026-12-01T00:00:00Z","created_by":"ENV PATH=/usr/bin","empty_layer":true},)"
      R"({"created":"2026-12-01T00:00:00Z","created_by":"RUN echo \"<iframe src=javascript:window.pwned=3>\""}])";
  extras.manifestFields =
      R"(,"annotations":{"org.example.note":"<script>window.pwned=2</script>"})";
  return oci.addImage({files, more}, {}, false, extras);
}

// Pushes what ui.test.mjs expects to `server`.
void pushImages(RegfsServer& server, const fs::path& work) {
  OciLayout oci(work / "oci");
  Blob hello = hostileImage(oci);
  oci.tag("1.0", hello);
  Blob other = oci.addImage({oci.addLayer({{"hello.txt", "another\n"}})});
  oci.tag("other", other);
  Blob amd64 = oci.addImage({oci.addLayer({{"arch.txt", "amd64\n"}})});
  Blob arm64 = oci.addImage({oci.addLayer({{"arch.txt", "arm64\n"}})},
                            {.os = "linux", .architecture = "arm64", .variant = "v8"});
  Blob index = oci.addIndex({{amd64, {}}, {arm64, {.architecture = "arm64", .variant = "v8"}}});
  oci.tag("2.0", index);
  std::string registry = "docker://" + server.host() + "/";
  for (const char* tag : {"1.0", "1.1", "1.2"})
    skopeoCopy(oci.ref("1.0"), registry + "library/hello:" + tag);
  skopeoCopy(oci.ref("other"), registry + "library/hello:other");
  skopeoCopy(oci.ref("2.0"), registry + "multi/arch:2.0", {"--all"});
  for (const char* name : {"team/tools/lint", "team/tools/build", "team/web"})
    skopeoCopy(oci.ref("other"), registry + name + ":latest");
  skopeoCopy(oci.ref("other"), registry + "scratch/delete-me:old");
  skopeoCopy(oci.ref("1.0"), registry + "scratch/delete-me:keep");

  HttpConnection c(server.port());
  // An untagged manifest: pushed by its digest only.
  ImageBytes loose = ociImage("{\"architecture\":\"amd64\",\"os\":\"linux\"}", {"loose layer"});
  auto pushed = pushImage(c, "library/hello", loose.digest(), loose);
  ASSERT_TRUE(pushed);
  ASSERT_EQ(pushed->status, 201) << pushed->body;

  // An SBOM referring to the index.
  std::string sbom = "{\"spdxVersion\":\"SPDX-2.3\"}";
  ASSERT_EQ(pushBlobMonolithic(c, "multi/arch", sbom)->status, 201);
  ASSERT_EQ(pushBlobMonolithic(c, "multi/arch", "{}")->status, 201);
  std::string referrer =
      manifestJson(descriptor("application/vnd.oci.empty.v1+json", digestOf("{}"), 2),
                   {descriptor("application/spdx+json", digestOf(sbom), sbom.size())},
                   ",\"artifactType\":\"application/vnd.example.sbom+json\",\"subject\":" +
                       descriptor(kOciIndexType, index.digest, index.size));
  auto put = putManifest(c, "multi/arch", digestOf(referrer), referrer, kOciManifestType);
  ASSERT_TRUE(put);
  ASSERT_EQ(put->status, 201) << put->body;
}

// Built by docker from the busybox image (history with empty layers, a label, environment,
// user, working directory and port in docker's config).
constexpr char kDockerfile[] = R"(ARG BASE
FROM ${BASE}
LABEL org.example.built-by=docker
ENV GREETING=hello
COPY greeting.txt /srv/greeting.txt
RUN echo docker-run > /srv/run.txt
WORKDIR /srv
EXPOSE 9090
USER 1000
)";

// Pushes with docker (Docker media types): docker/app:1.0 built by `docker build`, and
// docker/app:2.0, a manifest list (`docker manifest`) of it and an image listed as arm64/v8.
void pushDockerImages(RegfsServer& server, const fs::path& work) {
  DockerDaemon* docker = nullptr;
  try {
    docker = &sharedDockerDaemon();
  } catch (const std::exception& e) {
    FAIL() << "dockerd could not start: " << e.what();
  }
  auto ok = [&](const std::vector<std::string>& args) {
    CommandResult r = docker->docker(args);
    EXPECT_EQ(r.status, 0) << "docker " << args[0] << ": " << r.out << r.err << server.log();
    return r.status == 0;
  };
  const std::string base = "regfs-busybox:ui";
  const std::string repo = server.host() + "/docker/app";
  importBusyboxImage(*docker, base);
  importBusyboxImage(*docker, repo + ":arm64", {"LABEL org.example.arch=arm64"});
  writeFile(work / "context/Dockerfile", kDockerfile);
  writeFile(work / "context/greeting.txt", "hello from docker\n");
  bool pushed =
      ok({"build", "--network", "none", "--build-arg", "BASE=" + base, "-t", repo + ":1.0",
          (work / "context").string()}) &&
      ok({"push", repo + ":1.0"}) && ok({"push", repo + ":arm64"}) &&
      ok({"manifest", "create", "--insecure", repo + ":2.0", repo + ":1.0", repo + ":arm64"}) &&
      // docker import records the engine's own platform: the list says what it is for.
      ok({"manifest", "annotate", "--arch", "arm64", "--variant", "v8", repo + ":2.0",
          repo + ":arm64"}) &&
      ok({"manifest", "push", "--insecure", "--purge", repo + ":2.0"});
  // The engine is shared by the test program: leave nothing in it.
  docker->docker({"rmi", "-f", base, repo + ":1.0", repo + ":arm64"});
  ASSERT_TRUE(pushed);
}

fs::path screenshotDir() {
  if (const char* dir = getenv("REGFS_UI_SCREENSHOTS")) return dir;
  return fs::path(getenv("REGFS_BIN_DIR")).parent_path() / "ui-screenshots";
}

TEST(WebUiBrowser, EveryViewRendersWithoutRunningWhatWasPushed) {
  requireBrowserStack();
  TempDir work;
  RegfsServerOptions options;
  // The delete flow's repository keeps one tag a rule holds: the UI marks it. No indexing
  // after pushes: the files tab's first request finds the layers without an index and waits
  // while the server builds them (INDEX_PENDING).
  options.extraConfig =
      "regfs:\n  immutable:\n    - repositories: [\"scratch/**\"]\n      tags: [keep]\n"
      "  indexing:\n    enabled: false\n";
  RegfsServer server(fs::path(), options);
  ASSERT_NO_FATAL_FAILURE(pushImages(server, work.path()));
  ASSERT_NO_FATAL_FAILURE(pushDockerImages(server, work.path()));
  CommandResult r = runBrowser({"browse", server.url(), screenshotDir().string()});
  EXPECT_EQ(r.status, 0) << r.out << r.err << "\nserver log:\n" << server.log();
  EXPECT_EQ(server.stop(), 0);
}

// A catalog larger than a screen: many/ holds 250 repositories, so it starts closed and its
// rows are drawn when it is opened, 100 at a time behind "Show more"; the filter narrows.
TEST(WebUiBrowser, TheCatalogDrawsWhatTheScreenShows) {
  requireBrowserStack();
  TempDir work;
  {
    Store store = Store::openLocal(work / "store");
    for (int i = 0; i < 250; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "many/r%03d", i);
      Repository repo = store.repository(RepoName::parse(name));
      BuiltImage image = pushImage(store, repo, {"layer"});
      repo.putTag(Tag::parse("latest"), image.manifest);
    }
  }
  RegfsServer server(work / "store");
  CommandResult r = runBrowser({"catalog", server.url()});
  EXPECT_EQ(r.status, 0) << r.out << r.err << "\nserver log:\n" << server.log();
}

TEST(WebUiBrowser, SignsInWithHtpasswd) {
  requireBrowserStack();
  TempDir work;
  RegfsServer server(fs::path(), htpasswdAuth(work.path(), "alice", "wonder-land"));
  OciLayout oci(work / "oci");
  oci.tag("1.0", oci.addImage({oci.addLayer({{"hello.txt", "hi\n"}})}));
  skopeoCopy(oci.ref("1.0"), "docker://" + server.host() + "/library/hello:1.0",
             {"--dest-creds", "alice:wonder-land"});
  CommandResult r = runBrowser({"htpasswd", server.url(), "alice", "wonder-land"});
  EXPECT_EQ(r.status, 0) << r.out << r.err << "\nserver log:\n" << server.log();
}

// Token auth as it is deployed behind one reverse proxy: nginx serves the registry at / and
// the token server at /token, so the realm is on the page's origin and the page asks it for
// tokens as docker does. viewer browses and is offered no delete (the API refuses its forced
// one); pusher deletes. A second registry whose realm is on another origin: the page says
// it cannot ask it (docs/ui.md, "Auth").
TEST(WebUiBrowser, SignsInWithTokensFromTheRealm) {
  requireBrowserStack();
  ASSERT_TRUE(haveProgram("nginx")) << "nginx is required (scripts/setup.sh installs nginx-light)";
  TempDir work;
  TokenServer tokens("regfs-test-issuer", "regfs-test");
  int proxyPort = freePort();
  std::string proxied = "http://127.0.0.1:" + std::to_string(proxyPort);
  RegfsServerOptions options;
  options.extraConfig = tokens.registryConfig(proxied + "/token");
  RegfsServer server(fs::path(), options);
  NginxProxy proxy(
      {{"/token", {"127.0.0.1:" + std::to_string(tokens.port())}}, {"/", {server.host()}}},
      proxyPort);
  OciLayout oci(work / "oci");
  oci.tag("1.0", oci.addImage({oci.addLayer({{"hello.txt", "hi\n"}})}));
  for (const char* ref : {"library/hello:1.0", "scratch/delete-me:old", "scratch/delete-me:keep"}) {
    CommandResult pushed = skopeoCopy(oci.ref("1.0"), "docker://" + proxy.host() + "/" + ref,
                                      {"--dest-creds", "pusher:push-secret"});
    ASSERT_EQ(pushed.status, 0) << pushed.err << server.log() << tokens.log();
  }
  RegfsServerOptions elsewhere;
  elsewhere.extraConfig = tokens.registryConfig();
  RegfsServer foreign(fs::path(), elsewhere);
  CommandResult r = runBrowser({"token", proxy.url(), foreign.url()});
  EXPECT_EQ(r.status, 0) << r.out << r.err << "\nserver log:\n"
                         << server.log() << "\ntoken server log:\n"
                         << tokens.log();
}

}  // namespace
}  // namespace regfs::testing
