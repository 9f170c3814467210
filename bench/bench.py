#!/usr/bin/env python3
"""The side-by-side benchmark: regfs-server, the reference registry (Debian's docker-registry)
and nginx (the same files with sendfile) on loopback, the same work against each, interleaved
round by round; medians, ratios and targets go to bench/results/latest.{md,json}.

Run it through bench/run.sh, which installs what is missing, builds regfs, makes the work
directories and stops whatever is left when it ends. Standard library only.
"""

import argparse
import datetime
import glob
import hashlib
import io
import json
import os
import platform
import resource
import shutil
import signal
import ssl
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import loadgen  # noqa: E402
import mirror_bench  # noqa: E402
import report  # noqa: E402
import store_gen  # noqa: E402
from ceph import Ceph, CephError  # noqa: E402
from procs import Procs, status_kib, thread_cpu_seconds  # noqa: E402
from servers import Dockerd, NginxServer, RegistryServer, free_port, make_certificate  # noqa: E402

SECTIONS = ["api", "catalog", "blob", "upload", "docker", "view", "contents", "s3", "ui-api", "ui",
            "retention", "mirror"]

# The documented backup of the view (docs/view.md, "Backups"): what is inside images stays out.
BACKUP_EXCLUDES = ["--exclude=@*/rootfs", "--exclude=@*/layer-contents"]
# ls -lR of the store's view alone: the images' files are rows of their own.
CONTENTS_LS = ["--ignore=rootfs", "--ignore=layer-contents"]

PROFILES = {
    "full": dict(retention_repos=10, retention_tags=1000, rounds=3, seconds=3, catalog_seconds=5, blob_mib=512, catalog_repos=10000,
                 view_repos=1000, view_tags=10, docker_mib=512, docker_rounds=4, chunks=8,
                 gets_per_round=2, view_timeout=60, s3_mib=512, s3_rounds=3,
                 contents_mib=256, contents_files=30000, contents_browse=20, index_copies=10,
                 ui_tags=10000, mirror_mib=512, mirror_rss_mib=2048),
    "quick": dict(retention_repos=10, retention_tags=100, rounds=2, seconds=1, catalog_seconds=2, blob_mib=64, catalog_repos=1000,
                  view_repos=100, view_tags=10, docker_mib=32, docker_rounds=1, chunks=8,
                  gets_per_round=2, view_timeout=30, s3_mib=64, s3_rounds=2,
                  contents_mib=32, contents_files=4000, contents_browse=4, index_copies=4,
                  ui_tags=1000, mirror_mib=64, mirror_rss_mib=256),
}

ACCEPT = ("Accept: application/vnd.docker.distribution.manifest.v2+json, "
          "application/vnd.docker.distribution.manifest.list.v2+json, "
          "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json")

MB = 1e6
LUA_CATALOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lua", "catalog-pages.lua")
UI_BROWSER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ui_browser.mjs")


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def order(names, rnd):
    """A B C in even rounds, C B A in odd ones: no server always goes first."""
    return list(names) if rnd % 2 == 0 else list(reversed(names))


def settle():
    """Writes back what earlier steps left dirty in the page cache, untimed: a push or pull
    that is timed next then does not pay for the previous server's extraction or deletes."""
    os.sync()


def children_cpu_seconds():
    """CPU time of the child processes that have ended and been waited for."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def sh(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def first_line(argv):
    try:
        r = sh(argv)
        return (r.stdout.strip() or r.stderr.strip()).splitlines()[0]
    except (OSError, IndexError):
        return "not found"


def fetch(url, method="GET", headers=None, timeout=30, cafile=None):
    """(status, headers, body) via urllib, trusting `cafile` for https; used only to check
    answers, never to load."""
    req = urllib.request.Request(url, method=method, headers=headers or {})
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()
    except (OSError, urllib.error.URLError) as e:
        return None, {}, str(e).encode()


def drop_caches():
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def timed(argv, timeout):
    """Runs argv to completion; returns (seconds, stdout, None) or (None, stdout, why)."""
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "", "did not finish within %d s" % timeout
    t = time.monotonic() - t0
    if r.returncode != 0:
        return None, r.stdout, "exit status %d: %s" % (r.returncode, r.stderr.strip()[:160])
    return t, r.stdout, None


def read_file(path, block=1 << 20):
    """Reads a file sequentially with dd; returns seconds."""
    t0 = time.monotonic()
    r = sh(["dd", "if=" + path, "of=/dev/null", "bs=%d" % block])
    if r.returncode != 0:
        raise RuntimeError("dd: " + r.stderr.strip())
    return time.monotonic() - t0


class RandomReader:
    """A file-like object of random bytes, for tarfile."""

    def read(self, n):
        return os.urandom(n)


class Bench:
    def __init__(self, args, procs):
        self.a = args
        self.p = PROFILES["quick" if args.quick else "full"].copy()
        for key in ("rounds", "seconds"):
            if getattr(args, key):
                self.p[key] = getattr(args, key)
        self.procs = procs
        self.work = args.workdir
        self.mem = args.memdir
        self.logdir = os.path.join(self.work, "logs")
        os.makedirs(self.logdir, exist_ok=True)
        self.regfs_server = os.path.join(args.regfs_bin, "regfs-server")
        self.regfs_mount = args.mount_bin or os.path.join(args.regfs_bin, "regfs-mount")
        self.rows = []
        self.notes = []
        self.ceilings = []  # (title, value, unit)
        self.unavailable = {}  # server -> reason
        self.view_unavailable = None
        self.contents_unavailable = None
        self.meta = {}
        with open("/proc/loadavg") as f:
            self.load_start = " ".join(f.read().split()[:3])

    # ---- stores ---------------------------------------------------------------------------

    def row(self, *args, **kw):
        r = report.Row(*args, **kw)
        self.rows.append(r)
        return r

    def prepare(self):
        t0 = time.monotonic()
        p = self.p
        self.main = store_gen.generate_main(os.path.join(self.mem, "main"), p["catalog_repos"],
                                            p["blob_mib"] << 20)
        self.big_path = store_gen.blob_path(self.main["root"], self.main["big"]["blob"])
        self.big_size = self.main["big"]["blob_size"]
        self.big_digest = "sha256:" + self.main["big"]["blob"]
        log("main store: %d repositories, %d MiB blob (%.1f s)" %
            (self.main["repositories"], p["blob_mib"], time.monotonic() - t0))

    def chunk_files(self):
        n = self.p["chunks"]
        size = self.big_size // n
        out = []
        with open(self.big_path, "rb") as src:
            for i in range(n):
                path = os.path.join(self.mem, "chunk-%d" % i)
                want = size if i < n - 1 else self.big_size - size * (n - 1)
                with open(path, "wb") as dst:
                    left = want
                    while left:
                        buf = src.read(min(left, 8 << 20))
                        dst.write(buf)
                        left -= len(buf)
                out.append((path, want))
        return out

    # ---- servers --------------------------------------------------------------------------

    def registry(self, name, root, tls=None, storage=None, env=None):
        """regfs-server ("regfs") or the reference; `env` adds variables (REGISTRY_…)."""
        env = dict(env or {})
        if name == "regfs":
            argv = [self.regfs_server]
        else:
            argv = ["docker-registry", "serve"]
            # Its S3 driver panics at start (LoadCustomCABundleError) with AWS_CA_BUNDLE set.
            if storage:
                env["AWS_CA_BUNDLE"] = None
        s = RegistryServer(name, argv, root, self.procs, self.logdir, tls, storage,
                           env or None).start()
        if not s.available:
            self.unavailable.setdefault(name, s.note)
            log("%s is not available: %s" % (name, s.note))
            s.stop()
        return s

    # ---- the web UI's JSON endpoints (regfs only: the reference has none) ------------------

    def ui_store(self):
        """The main store with a repository of ui_tags tags (bench/tags), made once."""
        m = self.main
        if not m.get("ui_tags"):
            store_gen.add_many_tags(m["root"], "bench/tags", self.p["ui_tags"],
                                    m["small"]["manifest"], m["small"]["blobs"])
            m["ui_tags"] = self.p["ui_tags"]
        return m

    def ui_api_phase(self):
        """The web UI's endpoints on the main store's catalog and on a repository of 10,000
        tags: requests per second from one connection and the median latency."""
        m = self.ui_store()
        tags = self.p["ui_tags"]
        s = self.registry("regfs", m["root"])
        if not s.available:
            return
        n_repos = "{:,}".format(m["repositories"] + 1)
        n_tags = "{:,}".format(tags)
        endpoints = [
            ("ui_catalog", "/v2/_regfs/catalog: all %s repositories with counts and sizes" % n_repos,
             "/v2/_regfs/catalog"),
            ("ui_tags_pushed", "tags of a %s-tag repository, first page of 50 by push date" % n_tags,
             "/v2/bench/tags/_regfs/tags?sort=pushed&n=50"),
            ("ui_tags_name", "the same by name", "/v2/bench/tags/_regfs/tags?sort=name&n=50"),
            ("ui_tags_size", "the same by size", "/v2/bench/tags/_regfs/tags?sort=size&n=50"),
            ("ui_untagged", "untagged manifests of the %s-tag repository" % n_tags,
             "/v2/bench/tags/_regfs/manifests?untagged=true"),
            ("ui_image", "image page (config, layers, history, referrers, tags)",
             "/v2/bench/small/_regfs/image/latest"),
        ]
        for work, title, path in endpoints:
            status, _, body = fetch(s.url + path, timeout=120)
            why = None if status == 200 and body.startswith(b"{") else "%s -> %s" % (path, status)
            rate = self.row(work, "ui-api", title + " (wrk, 1 conn)", "req/s")
            latency = self.row(work + "_p50", "ui-api", title + ": median latency", "ms",
                               higher_is_better=False)
            if why:
                rate.add("regfs", None, error=why)
                latency.add("regfs", None, error=why)
                log("regfs answers %s wrongly: %s" % (work, why))
                continue
            for _ in range(self.p["rounds"]):
                res = loadgen.wrk(s.url + path, 1, self.p["seconds"], timeout_s=120)
                err = None if res["ok"] else "%d errors" % res["errors"]
                rate.add("regfs", res["rps"] if res["ok"] else None, res["p99_ms"], err)
                latency.add("regfs", res["p50_ms"] if res["ok"] else None, None, err)
            log("%s: %s" % (rate.title, self._summary(rate)))
        s.stop()

    def ui_phase(self):
        """The web UI in headless Chromium (bench/ui_browser.mjs) on the same store as
        ui_api_phase: the catalog and the 10,000-tag repository's first page, each timed from
        navigation until shown, and the catalog's filter from a keystroke to the next frame.
        The server has answered one catalog request before (it reads the store once, then
        keeps the summaries)."""
        m = self.ui_store()
        s = self.registry("regfs", m["root"])
        if not s.available:
            return
        t0 = time.monotonic()
        status, _, body = fetch(s.url + "/v2/_regfs/catalog?n=1", timeout=300)
        first = (time.monotonic() - t0) * 1000
        total = json.loads(body)["total"] if status == 200 else None
        cold = self.row("ui_catalog_first", "ui", "the server's first catalog request after it "
                        "started (reads every repository once)", "ms", higher_is_better=False)
        cold.add("regfs", first if total is not None else None,
                 error=None if total is not None else "status %s" % status)
        rows = [
            self.row("ui_catalog_browser", "ui",
                     "catalog of %s repositories shown, from navigation (new browser context)" %
                     "{:,}".format(total or 0), "ms", higher_is_better=False,
                     targets=[("absolute", "≤", 1000)]),
            self.row("ui_tags_browser", "ui",
                     "first page of the %s-tag repository by push date shown, from navigation" %
                     "{:,}".format(self.p["ui_tags"]), "ms", higher_is_better=False,
                     targets=[("absolute", "≤", 1000)]),
            self.row("ui_filter_browser", "ui",
                     "catalog filter: the slowest of 12 keystrokes, to the next frame", "ms",
                     higher_is_better=False, targets=[("absolute", "≤", 100)]),
        ]
        if total is None:
            for r in rows:
                r.add("regfs", None, error="the catalog answered %s" % status)
            s.stop()
            return
        t, out, why = timed(["node", UI_BROWSER, s.url, str(total), "bench/tags",
                             str(self.p["ui_tags"]), str(self.p["rounds"])], timeout=600)
        if why:
            for r in rows:
                r.add("regfs", None, error="ui_browser.mjs: " + why)
            log("the browser run failed: %s" % why)
        else:
            got = json.loads(out)
            for v in got["catalog_ms"]:
                rows[0].add("regfs", v)
            for v in got["tags_ms"]:
                rows[1].add("regfs", v)
            typed = len(got["filter_ms"]) // len(got["catalog_ms"])
            for i in range(len(got["catalog_ms"])):
                rows[2].add("regfs", max(got["filter_ms"][i * typed:(i + 1) * typed]))
            for r in rows:
                log("%s: %s" % (r.title, self._summary(r)))
        s.stop()

    # ---- the pull-through cache (regfs and distribution's proxy in front of one upstream) ---

    def mirror_phase(self):
        tools = argparse.Namespace(log=log, order=order, settle=settle, fetch=fetch,
                                   summary=self._summary)
        mirror_bench.MirrorBench(self, tools).run()

    # ---- 1-3: the read side ---------------------------------------------------------------

    def read_phase(self, sections):
        m = self.main
        root = m["root"]
        small = m["small"]
        regs = [self.registry("regfs", root), self.registry("reference", root)]
        ref = regs[1]

        # nginx serves the store's files at the registry's URLs; the two listings are the
        # reference's own answers, stored as static files.
        v2 = "/v2/bench/small"
        mtype = small["manifest_type"]
        manifest_file = store_gen.blob_path(root, small["manifest"])
        layer_file = store_gen.blob_path(root, small["layer"])
        # distribution 3 and regfs cap a catalog page at 1000 names: a client lists a large
        # catalog page by page, following Link.
        page = min(1000, m["repositories"])
        pages = -(-m["repositories"] // page)
        catalog_url = "/v2/_catalog?n=%d" % page
        listing = {}
        for path, fallback in (
                (v2 + "/tags/list", {"name": "bench/small", "tags": ["latest"]}),
                (catalog_url, None)):
            body = None
            if ref.available:
                status, _, body = fetch(ref.url + path, timeout=600)
                body = body if status == 200 else None
            if body is None:
                if fallback is None:
                    names = sorted(
                        ["bench/small", "bench/big"] +
                        ["cat/r%05d" % i for i in range(m["repositories"] - 2)])
                    fallback = {"repositories": names}
                body = json.dumps(fallback).encode()
            name = "tags.json" if "tags" in path else "catalog.json"
            listing[path] = os.path.join(self.work, name)
            with open(listing[path], "wb") as f:
                f.write(body)
        routes = {
            v2 + "/manifests/latest": (manifest_file, mtype),
            v2 + "/manifests/sha256:" + small["manifest"]: (manifest_file, mtype),
            v2 + "/blobs/sha256:" + small["layer"]: (layer_file, "application/octet-stream"),
            v2 + "/tags/list": (listing[v2 + "/tags/list"], "application/json"),
            "/v2/_catalog": (listing[catalog_url], "application/json"),
            "/v2/bench/big/blobs/" + self.big_digest: (self.big_path, "application/octet-stream"),
        }
        nginx = NginxServer(routes, self.procs, self.logdir, self.work).start()
        if not nginx.available:
            self.unavailable.setdefault("nginx", nginx.note)
        servers = {s.name: s for s in regs + [nginx]}
        names = ["regfs", "reference", "nginx"]
        live = [n for n in names if servers[n].available]

        def check(work, s):
            """None if `s` answers `work` correctly, else what is wrong."""
            u = s.url
            if work == "base":
                st, _, _ = fetch(u + "/v2/")
                return None if st == 200 else "GET /v2/ -> %s" % st
            if work in ("manifest_tag", "manifest_digest"):
                ref_ = "latest" if work == "manifest_tag" else "sha256:" + small["manifest"]
                st, h, body = fetch(u + v2 + "/manifests/" + ref_,
                                    headers={"Accept": ACCEPT.split(": ", 1)[1]})
                if st != 200:
                    return "GET manifest -> %s" % st
                if hashlib.sha256(body).hexdigest() != small["manifest"]:
                    return "manifest bytes differ"
                if h.get("content-type") != mtype:
                    return "Content-Type %s" % h.get("content-type")
                return None
            if work == "head_blob":
                st, h, _ = fetch(u + v2 + "/blobs/sha256:" + small["layer"], method="HEAD")
                if st != 200 or h.get("content-length") != str(small["layer_size"]):
                    return "HEAD blob -> %s, Content-Length %s" % (st, h.get("content-length"))
                return None
            if work == "tags_list":
                st, _, body = fetch(u + v2 + "/tags/list")
                try:
                    ok = st == 200 and "latest" in json.loads(body)["tags"]
                except (ValueError, KeyError, TypeError):
                    ok = False
                return None if ok else "tags/list -> %s" % st
            if work == "catalog":
                # nginx has the first page only; a registry must list every name once.
                path, names = catalog_url, []
                while path:
                    st, h, body = fetch(u + path, timeout=600)
                    try:
                        names += json.loads(body)["repositories"]
                    except (ValueError, KeyError, TypeError):
                        return "%s -> %s, not a catalog" % (path, st)
                    link = h.get("link", "")
                    path = link[link.find("<") + 1:link.find(">")] if s.name != "nginx" and \
                        link else None
                want = page if s.name == "nginx" else m["repositories"]
                if len(names) != want or len(set(names)) != want:
                    return "_catalog listed %d names (%d distinct), not %d" % (
                        len(names), len(set(names)), want)
                return None
            if work == "blob":
                st, h, _ = fetch(u + "/v2/bench/big/blobs/" + self.big_digest, method="HEAD",
                                 cafile=s.cafile)
                if st != 200 or h.get("content-length") != str(self.big_size):
                    return "HEAD big blob -> %s" % st
                return None
            raise ValueError(work)

        rounds, secs = self.p["rounds"], self.p["seconds"]

        if "api" in sections:
            endpoints = [
                ("manifest_tag", "manifest GET by tag", v2 + "/manifests/latest", [ACCEPT],
                 [("reference", "≥", 20), ("nginx", "≥", 0.5)]),
                ("manifest_digest", "manifest GET by digest",
                 v2 + "/manifests/sha256:" + small["manifest"], [ACCEPT], []),
                ("head_blob", "blob HEAD", v2 + "/blobs/sha256:" + small["layer"], None, []),
                ("tags_list", "tags/list", v2 + "/tags/list", [], []),
                ("base", "/v2/ (version check)", "/v2/", [], []),
            ]
            for work, title, path, headers, targets in endpoints:
                ok = {n: check(work, servers[n]) for n in live}
                for n, why in ok.items():
                    if why:
                        log("%s answers %s wrongly: %s" % (n, work, why))
                good = [n for n in live if not ok[n]]
                for conns in (32, 256):
                    tool = "ab" if headers is None else "wrk"
                    r = self.row("%s_c%d" % (work, conns), "api",
                                 "%s, %d conns (%s)" % (title, conns, tool), "req/s",
                                 targets=targets)
                    for n in live:
                        if ok[n]:
                            r.add(n, None, error=ok[n])
                    if conns == 32:  # warm-up: connections, caches, lazily built state
                        for n in good:
                            self._load(servers[n].url + path, headers, conns, 1)
                    for rnd in range(rounds):
                        for n in order(good, rnd):
                            res = self._load(servers[n].url + path, headers, conns, secs)
                            r.add(n, res["rps"] if res["ok"] else None, res["p99_ms"],
                                  None if res["ok"] else "%d errors" % res["errors"])
                    log("%s: %s" % (r.title, self._summary(r)))

        if "catalog" in sections:
            ok = {n: check("catalog", servers[n]) for n in live}
            r = self.row("catalog", "api",
                         "_catalog, all %s repositories in pages of n=%d following Link "
                         "(wrk + Lua, 1 conn; p99 per page)" % ("{:,}".format(m["repositories"]),
                                                                 page),
                         "listings/s", targets=[("reference", "≥", 10)])
            good = [n for n in live if not ok[n]]
            for n in live:
                if ok[n]:
                    r.add(n, None, error=ok[n])
                    log("%s answers _catalog wrongly: %s" % (n, ok[n]))
            for rnd in range(rounds):
                for n in order(good, rnd):
                    res = loadgen.wrk(servers[n].url + catalog_url, 1, self.p["catalog_seconds"],
                                      timeout_s=120, script=LUA_CATALOG,
                                      script_args=[catalog_url])
                    r.add(n, res["rps"] / pages if res["ok"] else None, res["p99_ms"],
                          None if res["ok"] else "%d errors" % res["errors"])
            log("%s: %s" % (r.title, self._summary(r)))

        if "blob" in sections:
            self._blob_get(servers, live, routes, check)

        mem = self.row("rss_read", "memory", "peak RSS after the read work (VmHWM)", "MiB",
                       higher_is_better=False)
        for n in live:
            mem.add(n, servers[n].vmhwm_mib())
        for s in (nginx, *regs):
            s.stop()

    def _blob_get(self, servers, live, routes, check):
        """The big blob's GET over plain HTTP from the running servers, then over TLS from a
        second set of the same servers (same store, same files) with one self-signed cert."""
        url = "/v2/bench/big/blobs/" + self.big_digest
        plain = self.row("blob_get", "api", "blob GET %d MiB, plain HTTP (curl)" %
                         (self.big_size >> 20), "MB/s", targets=[("nginx", "≥", 0.9)])
        self._measure_blob_get(plain, {n: servers[n] for n in live}, url, check)
        tls = make_certificate(self.work)
        secure = {}
        for n in live:
            if n == "nginx":
                s = NginxServer(routes, self.procs, self.logdir, self.work, tls=tls).start()
            else:
                s = self.registry(n, servers[n].root, tls=tls)
            if s.available:
                secure[n] = s
            else:
                log("%s over TLS is not available: %s" % (n, s.note))
        negotiated = ["%s %s" % (n, loadgen.tls_session(s.url + "/v2/", s.cafile))
                      for n, s in secure.items()]
        self.notes.append("TLS as curl negotiated it: " + "; ".join(negotiated) + ".")
        r = self.row("blob_get_tls", "api", "blob GET %d MiB over TLS 1.3 (curl)" %
                     (self.big_size >> 20), "MB/s", targets=[("nginx", "≥", 0.9)])
        self._measure_blob_get(r, secure, url, check)
        for s in secure.values():
            s.stop()

    def _measure_blob_get(self, r, servers, url, check):
        good = []
        for n, s in servers.items():
            error = check("blob", s)
            if error:
                r.add(n, None, error=error)
            else:
                good.append(n)
        for n in good:  # warm-up
            loadgen.curl_get([servers[n].url + url], servers[n].cafile)
        for rnd in range(self.p["rounds"]):
            for n in order(good, rnd):
                nbytes, secs_, statuses = loadgen.curl_get(
                    [servers[n].url + url] * self.p["gets_per_round"], servers[n].cafile)
                fine = all(s == 200 for s in statuses) and \
                    nbytes == self.big_size * self.p["gets_per_round"]
                r.add(n, nbytes / secs_ / MB if fine and secs_ > 0 else None,
                      error=None if fine else "statuses %s, %d bytes" % (statuses, nbytes))
        log("%s: %s" % (r.title, self._summary(r)))

    def _load(self, url, headers, conns, secs):
        if headers is None:
            return loadgen.ab_head(url, conns, secs)
        return loadgen.wrk(url, conns, secs, headers)

    def _summary(self, r):
        return ", ".join("%s %s" % (n, report._num(r.median(n))) for n in r.samples)

    # ---- 4: uploads -----------------------------------------------------------------------

    def upload_phase(self):
        r = sh(["openssl", "speed", "-seconds", "2", "-bytes", "16384", "-evp", "sha256"])
        for line in r.stdout.splitlines():
            parts = line.split()
            if parts and parts[0].lower() == "sha256" and parts[-1].endswith("k"):
                self.ceilings.append(("SHA-256 alone (openssl speed -evp sha256, 16 KiB blocks)",
                                      float(parts[-1][:-1]) * 1000 / MB, "MB/s"))
        ddfile = os.path.join(self.work, "dd-ceiling")
        # Through the page cache (what a registry that writes buffered gets), then bypassing
        # it (what the disk itself takes; regfs writes whole stages that way).
        for title, flags in (("disk write + fsync of the work directory (dd conv=fsync)",
                              ["bs=1M", "conv=fsync"]),
                             ("disk write by direct I/O + fsync (dd bs=8M oflag=direct conv=fsync)",
                              ["bs=8M", "oflag=direct", "conv=fsync"])):
            t0 = time.monotonic()
            dd = sh(["dd", "if=" + self.big_path, "of=" + ddfile] + flags)
            if dd.returncode == 0:
                self.ceilings.append((title, self.big_size / (time.monotonic() - t0) / MB, "MB/s"))
            if os.path.exists(ddfile):
                os.unlink(ddfile)

        chunks = self.chunk_files()
        regs = [self.registry(n, os.path.join(self.work, "up-" + n))
                for n in ("regfs", "reference")]
        live = [s for s in regs if s.available]
        mono = self.row("upload_monolithic", "api",
                        "blob upload %d MiB, monolithic (POST, streamed PUT)" %
                        (self.big_size >> 20), "MB/s", targets=[("reference", "≥", 4)])
        chunked = self.row("upload_chunked", "api",
                           "blob upload %d MiB, chunked (POST, %d × %d MiB PATCH, PUT)" %
                           (self.big_size >> 20, len(chunks), chunks[0][1] >> 20), "MB/s",
                           targets=[("reference", "≥", 4)])
        for rnd in range(self.p["rounds"]):
            for row, kind in ((mono, "monolithic"), (chunked, "chunked")):
                for s in order(live, rnd):
                    repo = "bench/up-%s-%d" % (kind, rnd)
                    try:
                        if kind == "monolithic":
                            t = loadgen.upload_monolithic(s.url, repo, self.big_path,
                                                          self.big_digest)
                        else:
                            t = loadgen.upload_chunked(s.url, repo, chunks, self.big_digest)
                        row.add(s.name, self.big_size / t / MB)
                    except RuntimeError as e:
                        row.add(s.name, None, error=str(e))
                        log("%s %s upload: %s" % (s.name, kind, e))
        for row in (mono, chunked):
            log("%s: %s" % (row.title, self._summary(row)))
        mem = self.row("rss_upload", "memory",
                       "peak RSS after the %d MiB uploads (VmHWM)" % (self.big_size >> 20), "MiB",
                       higher_is_better=False, targets=[("absolute", "≤", 64)])
        for s in live:
            mem.add(s.name, s.vmhwm_mib())
        for s in regs:
            s.stop()
            shutil.rmtree(s.root, ignore_errors=True)
        for path, _ in chunks:
            os.unlink(path)

    # ---- 5: docker push / pull ------------------------------------------------------------

    def docker_phase(self):
        push = self.row("docker_push", "api", "docker push, %d MiB image" % self.p["docker_mib"],
                        "s", higher_is_better=False, targets=[("reference", "≤", 1.0)])
        pull = self.row("docker_pull", "api", "docker pull, %d MiB image" % self.p["docker_mib"],
                        "s", higher_is_better=False, targets=[("reference", "≤", 1.0)])
        push_cpu = self.row("docker_push_cpu", "api", "registry CPU time during the docker push",
                            "CPU-s", higher_is_better=False)
        pull_cpu = self.row("docker_pull_cpu", "api", "registry CPU time during the docker pull",
                            "CPU-s", higher_is_better=False)
        mem = self.row("rss_docker", "memory", "peak RSS after docker push + pull (VmHWM)", "MiB",
                       higher_is_better=False)
        if os.geteuid() != 0:
            self.notes.append("docker push/pull skipped: dockerd needs root")
            return
        d = Dockerd(self.procs, self.logdir, self.work).start()
        if not d.available:
            self.notes.append("docker push/pull skipped: " + d.note)
            d.stop()
            return
        rootfs = os.path.join(self.work, "rootfs.tar")
        t0 = time.monotonic()
        self._rootfs(rootfs, self.p["docker_mib"] << 20)
        src = "bench/image:src"

        def docker(*args):
            r = sh(d.cli(*args))
            if r.returncode != 0:
                raise RuntimeError("docker %s: %s" % (args[0], (r.stderr or r.stdout).strip()))
            return r.stdout

        def ensure_source():
            if sh(d.cli("image", "inspect", src)).returncode != 0:
                docker("import", rootfs, src)

        ensure_source()
        log("image: %d MiB rootfs imported (%.1f s)" % (self.p["docker_mib"],
                                                          time.monotonic() - t0))
        try:
            for rnd in range(self.p["docker_rounds"]):
                for name in order(["regfs", "reference"], rnd):
                    if name in self.unavailable:
                        continue
                    store = os.path.join(self.work, "dk-%s-%d" % (name, rnd))
                    s = self.registry(name, store)  # a fresh store: every push uploads
                    if not s.available:
                        continue
                    ref = "%s/bench/image:1" % s.host
                    try:
                        ensure_source()
                        docker("tag", src, ref)
                        settle()
                        t0, c0, at = time.monotonic(), s.cpu_seconds(), d.log_offset()
                        docker("push", "-q", ref)
                        push.add(name, time.monotonic() - t0)
                        push_cpu.add(name, s.cpu_seconds() - c0)
                        self._docker_retries(d, at, "push to %s, round %d" % (name, rnd + 1))
                        docker("rmi", ref, src)  # nothing local left: the pull downloads all
                        settle()
                        t0, c0, at = time.monotonic(), s.cpu_seconds(), d.log_offset()
                        docker("pull", "-q", ref)
                        pull.add(name, time.monotonic() - t0)
                        pull_cpu.add(name, s.cpu_seconds() - c0)
                        self._docker_retries(d, at, "pull from %s, round %d" % (name, rnd + 1))
                        docker("tag", ref, src)
                        docker("rmi", ref)
                    except RuntimeError as e:
                        log("%s: %s" % (name, e))
                        for row in (push, pull, push_cpu, pull_cpu):
                            if len(row.samples.get(name, [])) <= rnd:
                                row.add(name, None, error=str(e)[:200])
                    mem.add(name, s.vmhwm_mib())
                    s.stop()
                    shutil.rmtree(store, ignore_errors=True)
            for row in (push, pull, push_cpu, pull_cpu):
                log("%s: %s" % (row.title, self._summary(row)))
        finally:
            d.stop()
            os.unlink(rootfs)

    def _docker_retries(self, d, offset, what):
        """A push or pull that dockerd had to retry took its backoff too: the note says so."""
        lines = d.retries_since(offset)
        if lines:
            self.notes.append("docker %s was retried (%d× in dockerd's log), first: %s" %
                              (what, len(lines), lines[0][:300]))
            log("docker %s retried: %s" % (what, lines[0][:300]))

    def _rootfs(self, path, size):
        """A rootfs tar: busybox (static) with its sh link, and `size` bytes of random data."""
        with tarfile.open(path, "w") as tar:
            busybox = shutil.which("busybox") or "/bin/busybox"
            info = tar.gettarinfo(busybox, "bin/busybox")
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with open(busybox, "rb") as f:
                tar.addfile(info, f)
            for name in ("sh", "ls", "cat"):
                link = tarfile.TarInfo("bin/" + name)
                link.type = tarfile.SYMTYPE
                link.linkname = "busybox"
                tar.addfile(link)
            data = tarfile.TarInfo("data/random.bin")
            data.size = size
            data.mode = 0o644
            tar.addfile(data, RandomReader())

    # ---- 7: S3 (radosgw) push / pull -------------------------------------------------------

    def s3_phase(self):
        mib = self.p["s3_mib"]
        push = self.row("s3_push", "s3", "S3 push (skopeo), %d MiB image" % mib, "s",
                        higher_is_better=False, targets=[("reference", "≤", 1 / 3)])
        pull = self.row("s3_pull", "s3", "S3 pull (skopeo), %d MiB image" % mib, "s",
                        higher_is_better=False, targets=[("reference", "≤", 1.0)])
        cpu = {
            "registry": self.row("s3_push_cpu", "s3", "registry CPU time during the S3 push", "CPU-s",
                                 higher_is_better=False),
            "ceph": self.row("s3_push_cpu_ceph", "s3", "radosgw + OSD + monitor CPU time during the S3 push",
                             "CPU-s", higher_is_better=False),
            "client": self.row("s3_push_cpu_client", "s3", "skopeo CPU time during the S3 push", "CPU-s",
                               higher_is_better=False),
        }
        mem = self.row("rss_s3", "s3", "peak RSS after S3 push + pull (VmHWM)", "MiB",
                       higher_is_better=False, targets=[("absolute", "≤", 128)])
        if os.geteuid() != 0:
            self.notes.append("S3 push/pull skipped: the Ceph daemons need root")
            return
        ceph = Ceph(self.procs, os.path.join(self.work, "ceph"))
        image = os.path.join(self.work, "s3-image")
        try:
            try:
                ceph.start()
                buckets = {"regfs": "bench-regfs", "reference": "bench-reference"}
                for bucket in buckets.values():
                    ceph.create_bucket(bucket)
                ceph.warm_up()
            except CephError as e:
                self.notes.append("S3 push/pull skipped: %s" % " ".join(str(e).split())[:600])
                log("ceph: %s" % e)
                return
            log("ceph: monitor, OSD and radosgw up (%.1f s)" % ceph.start_seconds)
            t0 = time.monotonic()
            layer = self._oci_image(image, mib << 20)
            log("image: %d MiB OCI layout (%.1f s)" % (mib, time.monotonic() - t0))
            for rnd in range(self.p["s3_rounds"]):
                for name in order(["regfs", "reference"], rnd):
                    if name in self.unavailable:
                        continue
                    # A fresh process on a fresh port each round: skopeo remembers where it
                    # pushed a blob per registry host and would mount it from there instead
                    # of uploading. The bucket stays; every round pushes to a new repository.
                    s = self.registry(name, None, storage=ceph.storage_yaml(buckets[name]))
                    if not s.available:
                        continue
                    try:
                        self._s3_round(s, ceph, rnd, image, layer, push, pull, cpu)
                    finally:
                        mem.add(name, s.vmhwm_mib())
                        s.stop()
            for row in [push, pull, mem] + list(cpu.values()):
                log("%s: %s" % (row.title, self._summary(row)))
            self._s3_cpu_note(push, cpu)
        finally:
            ceph.stop()
            shutil.rmtree(image, ignore_errors=True)

    def _s3_cpu_note(self, push, cpu):
        """What the CPU time of a push says of its wall time: every process of it shares this
        machine's cores, so their sum over the cores is the least time a push could take."""
        cores = os.cpu_count() or 1
        parts = []
        for name in push.samples:
            spent = [cpu[k].median(name) for k in ("client", "ceph", "registry")]
            if None in spent or push.median(name) is None:
                continue
            parts.append("%s: %.1f CPU-s in all (skopeo %.1f, Ceph %.1f, the registry %.1f), so at "
                         "least %.1f s on %d cores; took %.1f s" %
                         (name, sum(spent), spent[0], spent[1], spent[2], sum(spent) / cores, cores,
                          push.median(name)))
        if parts:
            self.notes.append("S3 push, CPU time (medians): " + "; ".join(parts) + ".")

    def _s3_round(self, s, ceph, rnd, image, layer, push, pull, cpu):
        dest = "docker://%s/bench/s3-%d:1" % (s.host, rnd)
        out = os.path.join(self.work, "s3-pull-%s-%d" % (s.name, rnd))
        skopeo = ["skopeo", "--insecure-policy", "copy", "-q"]
        limit = 1800
        settle()
        before = (s.cpu_seconds(), ceph.cpu_seconds(), children_cpu_seconds())
        t, _, why = timed(skopeo + ["--dest-tls-verify=false", "oci:%s:bench" % image, dest],
                          limit)
        push.add(s.name, t, error=why)
        after = (s.cpu_seconds(), ceph.cpu_seconds(), children_cpu_seconds())
        for key, b, a in zip(("registry", "ceph", "client"), before, after):
            cpu[key].add(s.name, None if why else a - b, error=why)
        if why:
            log("%s push: %s" % (s.name, why))
            pull.add(s.name, None, error="the push failed")
            return
        settle()
        t, _, why = timed(skopeo + ["--src-tls-verify=false", dest, "oci:%s:bench" % out], limit)
        if why is None:
            got = os.path.join(out, "blobs", "sha256", layer[len("sha256:"):])
            with open(got, "rb") as f:
                if "sha256:" + hashlib.file_digest(f, "sha256").hexdigest() != layer:
                    why = "the pulled layer differs"
        pull.add(s.name, t if why is None else None, error=why)
        if why:
            log("%s pull: %s" % (s.name, why))
        shutil.rmtree(out, ignore_errors=True)

    def _oci_image(self, directory, size):
        """An OCI layout holding one image tagged `bench`: one gzip layer (a tar of `size`
        random bytes, compressed once here so that skopeo copies it as it is) and its config.
        Returns the layer's digest."""
        blobs = os.path.join(directory, "blobs", "sha256")
        os.makedirs(blobs)
        tar_path = os.path.join(directory, "layer.tar")
        with tarfile.open(tar_path, "w") as tar:
            data = tarfile.TarInfo("data/random.bin")
            data.size = size
            data.mode = 0o644
            tar.addfile(data, RandomReader())

        def digest_of(path):
            with open(path, "rb") as f:
                return hashlib.file_digest(f, "sha256").hexdigest()

        diff_id = digest_of(tar_path)
        gz_path = tar_path + ".gz"
        with open(gz_path, "wb") as f:
            subprocess.run(["gzip", "-1", "-n", "-c", tar_path], stdout=f, check=True)
        os.unlink(tar_path)
        layer_hex = digest_of(gz_path)
        layer_size = os.path.getsize(gz_path)
        os.rename(gz_path, os.path.join(blobs, layer_hex))

        def add(obj):
            body = json.dumps(obj, separators=(",", ":")).encode()
            hexd = hashlib.sha256(body).hexdigest()
            with open(os.path.join(blobs, hexd), "wb") as f:
                f.write(body)
            return hexd, len(body)

        cfg_hex, cfg_size = add({"architecture": "amd64", "os": "linux",
                                 "config": {"Cmd": ["/bin/sh"]},
                                 "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff_id]}})
        man_type = "application/vnd.oci.image.manifest.v1+json"
        man_hex, man_size = add({
            "schemaVersion": 2, "mediaType": man_type,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "sha256:" + cfg_hex, "size": cfg_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": "sha256:" + layer_hex, "size": layer_size}]})
        with open(os.path.join(directory, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
        with open(os.path.join(directory, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": [
                {"mediaType": man_type, "digest": "sha256:" + man_hex, "size": man_size,
                 "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, f)
        return "sha256:" + layer_hex

    # ---- 7: inside images ------------------------------------------------------------------

    def _fuse(self, argv, mnt, name):
        """Starts a FUSE daemon in the foreground and waits for its mount; returns the process,
        or None (with the reason in self.contents_unavailable)."""
        os.makedirs(mnt, exist_ok=True)
        proc = self.procs.start(argv, os.path.join(self.logdir, name + ".log"))
        self.procs.add_mount(mnt)
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None and not os.path.ismount(mnt):
            time.sleep(0.01)
        if not os.path.ismount(mnt):
            self.contents_unavailable = "%s did not mount" % name
            self._unfuse(proc, mnt)
            return None
        return proc

    def _unfuse(self, proc, mnt):
        self.procs.unmount(mnt)
        self.procs.stop(proc)

    def retention_phase(self):
        """regfsctl retention over a generated store: a dry run, then a real one (half of each
        repository's tags and their manifests go), each on a fresh copy of the store."""
        p = self.p
        regfsctl = os.path.join(self.a.regfs_bin, "regfsctl")
        src = os.path.join(self.mem, "retention")
        t0 = time.monotonic()
        tags = store_gen.generate_retention(src, p["retention_repos"], p["retention_tags"],
                                            48 * 3600)
        log("retention store: %d tags in %d repositories (%.1f s)" % (
            tags, p["retention_repos"], time.monotonic() - t0))
        what = "%d tags, %d repositories, half older than the policy" % (tags, p["retention_repos"])
        rows = dict(
            dry=self.row("retention_dry_run", "retention",
                         "regfsctl retention --dry-run, %s" % what, "s", higher_is_better=False),
            real=self.row("retention_run", "retention",
                          "regfsctl retention (removes %d tags and their manifests), %s"
                          % (tags // 2, what), "s", higher_is_better=False),
        )
        for _ in range(p["rounds"]):
            for key, extra in (("dry", ["--dry-run"]), ("real", [])):
                root = os.path.join(self.mem, "retention-run")
                shutil.rmtree(root, ignore_errors=True)
                shutil.copytree(src, root, copy_function=shutil.copy2)
                config = os.path.join(self.mem, "retention.yml")
                with open(config, "w") as f:
                    f.write("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\n"
                            "regfs:\n  retention:\n    policies:\n"
                            "      - repositories: [\"retention/*\"]\n"
                            "        removeolderthan: 24h\n        untaggedolderthan: 24h\n"
                            % root)
                t, out, why = timed([regfsctl, "retention", config, "--json"] + extra, 600)
                if t is None:
                    rows[key].add("regfs", None, error=why)
                    continue
                removed = json.loads(out)["tagsRemoved"]
                if removed != tags // 2:
                    rows[key].add("regfs", None, error="removed %d tags, not %d" % (removed, tags // 2))
                    continue
                rows[key].add("regfs", t)
        shutil.rmtree(os.path.join(self.mem, "retention-run"), ignore_errors=True)

    def contents_phase(self):
        p = self.p
        t0 = time.monotonic()
        work = os.path.join(self.mem, "contents-work")
        os.makedirs(work, exist_ok=True)
        gen = store_gen.generate_contents(os.path.join(self.mem, "contents"), work,
                                          p["contents_files"], p["contents_mib"] << 20,
                                          p["contents_browse"])
        root = gen["root"]
        mib = gen["uncompressed"] >> 20
        files = gen["files"]
        log("contents store: one layer of %d files, %d MiB uncompressed (gzip %d MiB), %d more "
            "images (%.1f s)" % (len(files), mib, os.path.getsize(gen["gz"]) >> 20,
                                 len(gen["browse"]), time.monotonic() - t0))
        what = "%d MiB gzip layer, %d files" % (mib, len(files))
        rows = dict(
            build=self.row("contents_index_build", "contents",
                           "index build of the %s (regfsctl index) vs gzip -dc" % what, "s",
                           higher_is_better=False, targets=[("other", "≤", 1.0)]),
            size=self.row("contents_index_size", "contents",
                          "index size, % of the uncompressed layer", "%",
                          higher_is_better=False, targets=[("absolute", "≤", 2)]),
            find=self.row("contents_find", "contents",
                          "fresh mount + find rootfs (indexed) vs archivemount + find", "s",
                          higher_is_better=False, targets=[("other", "≤", 0.2)]),
            reads=self.row("contents_random_reads", "contents",
                           "10 random file reads, fresh mount, gzip vs archivemount", "s",
                           higher_is_better=False, targets=[("other", "≤", 0.05)]),
            reads_zstd=self.row("contents_random_reads_zstd", "contents",
                                "10 random file reads, fresh mount, zstd (one frame)", "s",
                                higher_is_better=False),
            reads_plain=self.row("contents_random_reads_plain", "contents",
                                 "10 random file reads, fresh mount, plain tar", "s",
                                 higher_is_better=False),
            all=self.row("contents_read_all", "contents",
                         "every file (tar -c rootfs) vs tar -xzf to tmpfs", "s",
                         higher_is_better=False, targets=[("other", "≤", 1.2)]),
            all_cached=self.row("contents_read_all_cached", "contents",
                                "every file again, pages cached (tar -c rootfs, same mount) vs "
                                "tar -c of the tree tar -xzf made on tmpfs", "s",
                                higher_is_better=False),
        )
        rows["all_cached"].note = ("the second tar -c of the mount the row above timed: the kernel "
                                   "holds every page, and files open in the kernel alone since the "
                                   "first tar -c (-o opens=auto), so no request reaches the daemon "
                                   "per file (no OPEN, no READ, nothing to decompress)")
        rss = self.row("contents_rss", "contents",
                       "regfs-mount peak RSS after find + 10 reads in %d images (VmHWM)"
                       % len(gen["browse"]), "MiB", higher_is_better=False,
                       targets=[("absolute", "≤", 128)])
        regfsctl = os.path.join(self.a.regfs_bin, "regfsctl")
        layer = gen["images"]["gzip"]["layer"]
        index_file = os.path.join(store_gen.v2(root), "_layer_index", "sha256", layer[:2], layer,
                                  "index")
        for rnd in range(p["rounds"]):
            for which in order(["regfs", "other"], rnd):
                if which == "regfs":
                    t, _, why = timed([regfsctl, "index", root, "contents/gzip:latest", "--force"],
                                      600)
                else:
                    t, _, why = timed(["sh", "-c", "gzip -dc '%s' > /dev/null" % gen["gz"]], 600)
                rows["build"].add(which, t, error=why)
        if os.path.exists(index_file):
            rows["size"].add("regfs", 100.0 * os.path.getsize(index_file) / gen["uncompressed"])
        for image in ("contents/zstd:latest", "contents/plain:latest", "contents/browse"):
            timed([regfsctl, "index", root, image], 600)

        step = max(1, len(files) // 10)
        picks = [files[min(len(files) - 1, i * step + step // 2)][0] for i in range(10)]
        picks[-1] = files[-1][0]  # the very end of the layer
        mnt = os.path.join(self.work, "mnt-contents")
        rootfs = os.path.join(mnt, "contents/%s/latest/rootfs")

        def mount_regfs():
            return self._fuse([self.regfs_mount, root, mnt, "-f"], mnt, "regfs-mount-contents")

        def mount_archive():
            return self._fuse(["archivemount", "-f", "-o", "readonly", gen["gz"], mnt], mnt,
                              "archivemount")

        def read_picks(base):
            t0 = time.monotonic()
            for name in picks:
                with open(os.path.join(base, name), "rb") as f:
                    while f.read(1 << 20):
                        pass
            return time.monotonic() - t0

        for rnd in range(p["rounds"]):
            for which in order(["regfs", "other"], rnd):
                settle()
                t0 = time.monotonic()
                proc = mount_regfs() if which == "regfs" else mount_archive()
                if proc is None:
                    return
                base = rootfs % "gzip" if which == "regfs" else mnt
                r = sh(["find", base])
                rows["find"].add(which, time.monotonic() - t0,
                                 error=None if r.returncode == 0 else r.stderr[:160])
                self._unfuse(proc, mnt)
                proc = mount_regfs() if which == "regfs" else mount_archive()
                if proc is None:
                    return
                try:
                    rows["reads"].add(which, read_picks(base))
                except OSError as e:
                    rows["reads"].add(which, None, error=str(e))
                self._unfuse(proc, mnt)
            for kind, row in (("zstd", rows["reads_zstd"]), ("plain", rows["reads_plain"])):
                proc = mount_regfs()
                if proc is None:
                    return
                try:
                    row.add("regfs", read_picks(rootfs % kind))
                except OSError as e:
                    row.add("regfs", None, error=str(e))
                self._unfuse(proc, mnt)
        for rnd in range(p["rounds"]):
            for which in order(["regfs", "other"], rnd):
                if which == "regfs":
                    proc = mount_regfs()
                    if proc is None:
                        return
                    tar_c = ["sh", "-c", "tar -cf - -C '%s' . | cat > /dev/null" % (rootfs % "gzip")]
                    t, _, why = timed(tar_c, 600)
                    again, _, why_again = timed(tar_c, 600)
                    self._unfuse(proc, mnt)
                else:
                    dest = os.path.join(self.mem, "contents-untar")
                    os.makedirs(dest, exist_ok=True)
                    t, _, why = timed(["tar", "-xzf", gen["gz"], "-C", dest], 600)
                    again, _, why_again = timed(["sh", "-c", "tar -cf - -C '%s' . | cat > /dev/null"
                                                 % dest], 600)
                    shutil.rmtree(dest, ignore_errors=True)
                rows["all"].add(which, t, error=why)
                rows["all_cached"].add(which, again, error=why_again)
        proc = mount_regfs()
        if proc is None:
            return
        for tag in gen["browse"]:
            base = os.path.join(mnt, "contents/browse", tag, "rootfs")
            sh(["find", base])
            try:
                read_picks(base)
            except OSError as e:
                rss.errors.setdefault("regfs", str(e))
        kib = status_kib(proc.pid, "VmHWM")
        rss.add("regfs", kib / 1024.0 if kib else None)
        self._unfuse(proc, mnt)
        rss.note = "each image: the big gzip layer under a small one of its own"
        for key in rows:
            log("%s: %s" % (rows[key].title, self._summary(rows[key])))
        log("%s: %s" % (rss.title, self._summary(rss)))
        self._indexing_rows(gen, what)

    def _push_blobs(self, s, repo, layer_path, diff_id, label):
        """Uploads a gzip layer file and a config of its own to `repo` through the API (blob
        uploads start no indexing); returns the manifest of the two, not pushed yet."""
        with open(layer_path, "rb") as f:
            layer_hex = hashlib.file_digest(f, "sha256").hexdigest()
        loadgen.upload_monolithic(s.url, repo, layer_path, "sha256:" + layer_hex)
        config = store_gen.image_config([diff_id], label)
        config_path = os.path.join(self.mem, "contents-config")
        with open(config_path, "wb") as f:
            f.write(config)
        config_hex = hashlib.sha256(config).hexdigest()
        loadgen.upload_monolithic(s.url, repo, config_path, "sha256:" + config_hex)
        os.unlink(config_path)
        return store_gen.manifest_bytes(config_hex, len(config), [
            (layer_hex, os.path.getsize(layer_path), store_gen.LAYER_GZIP)])

    def _put_manifest(self, s, repo, tag, body):
        path = os.path.join(self.mem, "contents-manifest")
        with open(path, "wb") as f:
            f.write(body)
        loadgen.put_manifest(s.url, repo, tag, path, store_gen.MANIFEST_V2)
        os.unlink(path)

    def _push_small_image(self, s, repo, tag):
        """An image of one small gzip layer (one file) pushed through the API; returns the
        manifest's digest (hex)."""
        tar_path = os.path.join(self.mem, "contents-small.tar")
        with tarfile.open(tar_path, "w") as tar:
            info = tarfile.TarInfo("etc/hostname")
            info.size = 6
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(b"bench\n"))
        with open(tar_path, "rb") as f:
            diff_id = hashlib.file_digest(f, "sha256").hexdigest()
        subprocess.run(["gzip", "-n", "-f", tar_path], check=True)
        body = self._push_blobs(s, repo, tar_path + ".gz", diff_id, "small")
        os.unlink(tar_path + ".gz")
        self._put_manifest(s, repo, tag, body)
        return hashlib.sha256(body).hexdigest()

    def _push_layer_copies(self, s, gen, repo, copies):
        """Pushes `copies` images through the API, each the big gzip layer under a gzip header
        of its own (MTIME = the copy's number: another digest, the same tar): every blob first,
        then the manifests together, so that indexing starts once every blob is in."""
        tmp = os.path.join(self.mem, "contents-copy.gz")
        manifests = []
        for i in range(copies):
            with open(gen["gz"], "rb") as src, open(tmp, "wb") as dst:
                head = bytearray(src.read(10))
                head[4:8] = (i + 1).to_bytes(4, "little")
                dst.write(head)
                shutil.copyfileobj(src, dst, 8 << 20)
            manifests.append(self._push_blobs(s, repo, tmp, gen["diff_id"], "indexing-%d" % i))
        os.unlink(tmp)
        for i, body in enumerate(manifests):
            self._put_manifest(s, repo, "c%02d" % i, body)

    def _indexer(self, s, metrics_url):
        """What `s` reports of its layer indexing (regfs_layer_index_*), and the CPU time its
        layer-indexer thread has had."""
        st, _, body = fetch(metrics_url)
        values = {}
        for line in body.decode(errors="replace").splitlines() if st == 200 else []:
            if line.startswith("regfs_layer_index"):
                key, _, value = line.rpartition(" ")
                values[key] = float(value)
        queue = 'regfs_layer_index_queue_length{kind="%s"}'
        return {"layers": values.get(queue % "layer"),
                "manifests": values.get(queue % "manifest"),
                "ok": values.get('regfs_layer_indexes_built_total{result="ok"}'),
                "seconds": values.get("regfs_layer_index_build_duration_seconds_sum"),
                "cpu": thread_cpu_seconds(s.proc.pid, "layer-indexer")}

    def _wait_indexer(self, s, metrics_url, done, timeout):
        """The indexer's state once done(state) holds, or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        now = self._indexer(s, metrics_url)
        while not done(now) and time.monotonic() < deadline:
            time.sleep(0.05)
            now = self._indexer(s, metrics_url)
        return now if done(now) else None

    def _measure_gets(self, rows, column, url, queued=None):
        """p["rounds"] rounds of manifest GETs at each row's connection count into `column`;
        with `queued` (the layer queue's length now), a run after which no layer is queued
        counts as failed. Returns the least queue length seen after a run."""
        least = None
        for rnd in range(self.p["rounds"]):
            for c in order(list(rows), rnd):
                res = self._load(url, [ACCEPT], c, self.p["seconds"])
                why = None if res["ok"] else "%d errors" % res["errors"]
                if queued:
                    n = queued() or 0
                    least = n if least is None else min(least, n)
                    if not n:
                        why = "indexing had ended by the end of a run"
                rows[c].add(column, None if why else res["rps"], res["p99_ms"], why)
        return least

    def _indexing_rows(self, gen, what):
        """Manifest GETs (wrk, as the api rows) from a regfs-server while it indexes copies of
        the big gzip layer pushed through its API, and from the same server idle, before the
        pushes and once its queue is empty. Its metrics show indexing went on through every
        measured run: with no pushes meanwhile the queue only shrinks, so a layer still queued
        after a run was queued all through it."""
        copies = self.p["index_copies"]
        rows = {c: self.row("contents_manifest_get_indexing_c%d" % c, "contents",
                            "manifest GET by tag, %d conns (wrk): regfs-server indexing %d pushed "
                            "copies of the %s vs the same server idle" % (c, copies, what),
                            "req/s")
                for c in (32, 256)}
        metrics_url = "http://127.0.0.1:%d/metrics" % free_port()
        s = RegistryServer("regfs-indexing", [self.regfs_server],
                           os.path.join(self.mem, "contents-pushed"), self.procs, self.logdir,
                           env={"REGISTRY_HTTP_DEBUG_ADDR": metrics_url.split("/")[2],
                                "REGISTRY_REGFS_INDEXING_ENABLED": "true"}).start()
        try:
            why = self._measure_indexing(s, metrics_url, gen, rows, copies)
        finally:
            s.stop()
        if why:
            log("manifest GET while indexing: %s" % why)
            for r in rows.values():  # in the column the failure left without samples
                r.add("other" if "regfs" in r.samples else "regfs", None, error=why)
        for r in rows.values():
            log("%s: %s" % (r.title, self._summary(r)))

    def _measure_indexing(self, s, metrics_url, gen, rows, copies):
        """The measurement of _indexing_rows on the running server `s`; returns why it could
        not be made, or None."""
        if not s.available:
            return "regfs-server did not start: %s" % s.note

        def idle(now):
            return now["layers"] == 0 and now["manifests"] == 0

        repo = "contents/indexing"
        url = s.url + "/v2/%s/manifests/small" % repo
        try:
            digest = self._push_small_image(s, repo, "small")
            st, _, body = fetch(url, headers={"Accept": ACCEPT.split(": ", 1)[1]})
            if st != 200 or hashlib.sha256(body).hexdigest() != digest:
                return "GET manifest -> %s, not the pushed manifest" % st
            before = self._wait_indexer(s, metrics_url, idle, 60)
            if before is None:
                return "the small image was not indexed within 60 s"
            self._load(url, [ACCEPT], 32, 1)  # warm-up
            self._measure_gets(rows, "other", url)
            self._push_layer_copies(s, gen, repo, copies)
        except RuntimeError as e:
            return "push through the API: %s" % e
        # The indexer reads the pushed manifests first, then queues their layers.
        start = self._wait_indexer(
            s, metrics_url, lambda now: now["manifests"] == 0 and (now["layers"] or 0) > 0, 60)
        if start is None:
            return "the pushed layers were not queued within 60 s"
        least = self._measure_gets(rows, "regfs", url,
                                   lambda: self._indexer(s, metrics_url)["layers"])
        during = self._indexer(s, metrics_url)
        end = self._wait_indexer(s, metrics_url, idle, 600)
        if end is None:
            return "indexing still ran 600 s after the runs"
        self._measure_gets(rows, "other", url)

        def count(x):
            return "n/a" if x is None else "%d" % x

        rows[32].note = (
            "regfs: a regfs-server (indexing on: one thread at idle priority) right after %d "
            "images were pushed through its API (blob uploads, then the manifests), each the "
            "big gzip layer under a gzip header of its own (another digest, the same tar). Its "
            "layer queue (regfs_layer_index_queue_length{kind=\"layer\"}, the layer being "
            "built included) was %s before the first run and at least %s after every run; "
            "without pushes it only shrinks, so indexing went on through every run. During the "
            "runs the layer-indexer thread used %.2f CPU-s and finished %s of the layers; the %d "
            "builds took %.1f s in all (regfs_layer_index_build_duration_seconds_sum, the time "
            "the runs left them no CPU included). other: the same server idle, %d rounds before "
            "the pushes and %d once its queue was empty." % (
                copies, count(start["layers"]), count(least), during["cpu"] - start["cpu"],
                count((during["ok"] or 0) - (start["ok"] or 0)), copies,
                (end["seconds"] or 0) - (before["seconds"] or 0), self.p["rounds"],
                self.p["rounds"]))
        rows[256].note = "as at 32 connections, in the same rounds"
        return None

    # ---- 6: the view ----------------------------------------------------------------------

    def view_phase(self):
        t0 = time.monotonic()
        view = store_gen.generate_view(os.path.join(self.mem, "view"), self.p["view_repos"],
                                       self.p["view_tags"])
        bigstore = store_gen.generate_view(
            os.path.join(self.work, "viewbig"), 0, 0,
            big_from=(self.main["root"], self.main["big"]["blob"], self.big_size))
        log("view stores: %d repositories × %d tags (%.1f s)" %
            (self.p["view_repos"], self.p["view_tags"], time.monotonic() - t0))
        rows = dict(
            warm=self.row("view_read_warm", "view", "sequential read %d MiB layer, warm cache (dd)"
                          % (self.big_size >> 20), "MB/s", subject="view",
                          targets=[("direct", "≥", 0.7)]),
            cold=self.row("view_read_cold", "view", "sequential read %d MiB layer, cold cache (dd)"
                          % (self.big_size >> 20), "MB/s", subject="view",
                          targets=[("direct", "≥", 0.8)]),
            # Kernels before 6.9 (Debian bookworm's 6.1), not root, or files opened in the
            # kernel alone: the daemon answers.
            cold_daemon=self.row("view_read_cold_no_passthrough", "view",
                                 "sequential read %d MiB layer, cold cache, -o opens=kernel (dd)"
                                 % (self.big_size >> 20), "MB/s", subject="view",
                                 targets=[("direct", "≥", 0.8)]),
            ls=self.row("view_ls", "view", "ls -lR, %d repositories × %d tags" %
                        (self.p["view_repos"], self.p["view_tags"]), "s",
                        higher_is_better=False, subject="view"),
            rsync1=self.row("view_rsync_first", "view", "first rsync -aH (full copy)", "s",
                            higher_is_better=False, subject="view"),
            rsync2=self.row("view_rsync_second", "view",
                            "second rsync -aH, %d tags unchanged" % view["tags"], "s",
                            higher_is_better=False, subject="view",
                            targets=[("absolute", "≤", 5)]),
        )
        mounts = {}
        for key, root, extra in (("big", bigstore["root"], []),
                                 ("big-daemon", bigstore["root"], ["-o", "opens=kernel"]),
                                 ("view", view["root"], [])):
            mnt = os.path.join(self.work, "mnt-" + key)
            os.makedirs(mnt, exist_ok=True)
            proc = self.procs.start([self.regfs_mount, root, mnt, "-f"] + extra,
                                    os.path.join(self.logdir, "regfs-mount-%s.log" % key))
            self.procs.add_mount(mnt)
            deadline = time.time() + 20
            while time.time() < deadline and proc.poll() is None and not os.path.ismount(mnt):
                time.sleep(0.1)
            if not os.path.ismount(mnt):
                with open(os.path.join(self.logdir, "regfs-mount-%s.log" % key),
                          errors="replace") as f:
                    why = " ".join(f.read().split())[:200]
                self.view_unavailable = "view not available: regfs-mount did not mount (%s)" % (
                    why or "no output")
                log(self.view_unavailable)
                self.procs.stop(proc)
                self.procs.unmount(mnt)
                for p, m in mounts.values():
                    self.procs.stop(p)
                    self.procs.unmount(m)
                return
            mounts[key] = (proc, mnt)
        try:
            self._view_work(rows, bigstore, view, mounts)
        finally:
            mem = self.row("rss_mount", "memory", "regfs-mount peak RSS, %d-tag view (VmHWM)" %
                           view["tags"], "MiB", higher_is_better=False)
            kib = status_kib(mounts["view"][0].pid, "VmHWM")
            mem.add("regfs", kib / 1024.0 if kib else None)
            for p, m in mounts.values():
                self.procs.unmount(m)
                self.procs.stop(p)

    def _view_work(self, rows, bigstore, view, mounts):
        direct = store_gen.blob_path(bigstore["root"], bigstore["big"]["blob"])
        layers = [f for f in glob.glob(os.path.join(mounts["big"][1], "bench", "big", "@sha256:*",
                                                    "layers", "*"))
                  if os.path.getsize(f) == self.big_size]
        if not layers:
            self.notes.append("view: no %d-byte layer under bench/big in the mount" % self.big_size)
            return
        files = {"view": layers[0], "direct": direct,
                 "daemon": os.path.join(mounts["big-daemon"][1],
                                        os.path.relpath(layers[0], mounts["big"][1]))}
        rounds = self.p["rounds"]
        for path in files.values():
            read_file(path)  # warm
        for rnd in range(rounds):
            for which in order(["view", "direct"], rnd):
                rows["warm"].add(which, self.big_size / read_file(files[which]) / MB)
        if drop_caches():
            # Cold reads vary most from round to round: at least five, whatever --rounds says.
            cold_rounds = max(rounds, 5)
            # One direct read a round is the yardstick of both cold rows.
            for rnd in range(cold_rounds):
                for which in order(["view", "daemon", "direct"], rnd):
                    drop_caches()
                    rate = self.big_size / read_file(files[which]) / MB
                    if which != "daemon":
                        rows["cold"].add(which, rate)
                    if which != "view":
                        rows["cold_daemon"].add("view" if which == "daemon" else which, rate)
            rows["cold"].note = "median of %d rounds" % cold_rounds
            rows["cold_daemon"].note = ("median of %d rounds, against the same direct reads as "
                                        "the row above" % cold_rounds)
        else:
            rows["cold"].note = "needs root (echo 3 > /proc/sys/vm/drop_caches)"
            rows["cold_daemon"].note = rows["cold"].note
        trees = {"view": mounts["view"][1], "direct": view["root"]}
        limit = self.p["view_timeout"]
        # A run that does not finish within the limit is recorded as such and not repeated.
        for rnd in range(rounds):
            for which in order(["view", "direct"], rnd):
                if rows["ls"].errors.get(which):
                    continue
                t, _, why = timed(["ls", "-lR"] + CONTENTS_LS + [trees[which]], limit)
                rows["ls"].add(which, t, error=why)
        first_done = {}
        for which in ("view", "direct"):
            dest = os.path.join(self.mem, "rsync-" + which)
            t, _, why = timed(["rsync", "-aH"] + BACKUP_EXCLUDES + [trees[which] + "/", dest + "/"],
                              limit * 2)
            rows["rsync1"].add(which, t, error=why)
            first_done[which] = why is None
        for rnd in range(rounds):
            for which in order(["view", "direct"], rnd):
                if not first_done[which]:
                    rows["rsync2"].add(which, None, error="the first rsync did not complete")
                    continue
                if rows["rsync2"].errors.get(which):
                    continue
                dest = os.path.join(self.mem, "rsync-" + which)
                t, out, why = timed(["rsync", "-aH", "--stats"] + BACKUP_EXCLUDES +
                                    [trees[which] + "/", dest + "/"], limit)
                moved = None
                for line in out.splitlines():
                    if line.startswith("Number of regular files transferred:"):
                        moved = int(line.split(":")[1].replace(",", ""))
                if why is None and moved != 0:
                    why = "%s files sent again" % moved
                rows["rsync2"].add(which, t if why is None else None, error=why)
        for key in ("warm", "cold", "cold_daemon", "ls", "rsync1", "rsync2"):
            log("%s: %s" % (rows[key].title, self._summary(rows[key])))

    # ---- report ---------------------------------------------------------------------------

    def host_lines(self):
        cpu = "unknown CPU"
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        mem_kib = 0
        try:
            with open("/proc/meminfo") as f:
                mem_kib = int(f.readline().split()[1])
        except (OSError, ValueError, IndexError):
            pass
        versions = {
            "regfs-server": first_line([self.regfs_server, "--version"]),
            "docker-registry": first_line(["docker-registry", "--version"]),
            "nginx": first_line(["nginx", "-v"]),
            "wrk": first_line(["wrk", "-v"]),
            "ab": first_line(["ab", "-V"]),
            "curl": first_line(["curl", "--version"]),
            "docker": first_line(["dockerd", "--version"]),
        }
        self.meta["host"] = {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
                             "memory_gib": round(mem_kib / 1048576, 1)}
        self.meta["versions"] = versions
        # The version string does not change between builds; the binaries' digests do.
        for prog in (self.regfs_server, self.regfs_mount):
            try:
                with open(prog, "rb") as f:
                    self.meta.setdefault("binaries_sha256", {})[os.path.basename(prog)] = \
                        hashlib.sha256(f.read()).hexdigest()
            except OSError:
                pass
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        self.meta["host"]["loadavg_end"] = load
        self.meta["host"]["loadavg_start"] = self.load_start
        return ("%s, %d cores, %.0f GiB RAM, Linux %s, load average %s at the start and %s at "
                "the end" % (cpu, os.cpu_count() or 0, mem_kib / 1048576, platform.release(),
                             self.load_start, load), versions)

    def write(self, started, command):
        host, versions = self.host_lines()
        p = self.p
        header = [
            "## regfs benchmark — %s" % started.strftime("%Y-%m-%d %H:%M UTC"),
            "",
            "`%s` on %s. Medians of %d interleaved rounds (docker: %d); ratios are of medians. "
            "regfs: %s; reference: %s; nginx: %s." % (
                command, host, p["rounds"], p["docker_rounds"], versions["regfs-server"],
                versions["docker-registry"], versions["nginx"]),
        ]
        srv_cols = [("regfs", "regfs"), ("reference", "reference"), ("nginx", "nginx")]
        unavailable = set(self.unavailable)
        sections = []
        api_rows = [r for r in self.rows if r.table == "api"]
        if api_rows:
            sections.append(("Registry API (loopback)", report.markdown_table(
                api_rows, srv_cols, [("reference", "regfs/ref"), ("nginx", "regfs/nginx")],
                unavailable)))
        if self.ceilings:
            lines = ["| ceiling | value | regfs upload (monolithic) / ceiling |", "|---|---|---|"]
            mono = next((r for r in self.rows if r.id == "upload_monolithic"), None)
            for title, value, unit in self.ceilings:
                up = mono.median("regfs") if mono and "regfs" not in unavailable else None
                lines.append("| %s | %s %s | %s |" % (
                    title, report._num(value), unit,
                    report._ratio(up / value) if up else "n/a"))
            sections.append(("Upload ceilings", "\n".join(lines)))
        mem_rows = [r for r in self.rows if r.table == "memory"]
        if mem_rows:
            sections.append(("Memory", report.markdown_table(
                mem_rows, srv_cols, [("reference", "regfs/ref")], unavailable)))
        s3_rows = [r for r in self.rows if r.table == "s3"]
        if s3_rows:
            sections.append(("S3: both registries on one radosgw (single-node Ceph)",
                             report.markdown_table(s3_rows, srv_cols[:2],
                                                   [("reference", "regfs/ref")], unavailable)))
        view_rows = [r for r in self.rows if r.table == "view"]
        if self.view_unavailable:
            sections.append(("View (regfs-mount)", self.view_unavailable))
        elif view_rows:
            sections.append(("View (regfs-mount) against the same files read directly",
                             report.markdown_table(view_rows, [("view", "view"),
                                                               ("direct", "direct")],
                                                   [("direct", "view/direct")])))
        ui_rows = [r for r in self.rows if r.table == "ui-api"]
        if ui_rows:
            sections.append(("The web UI's JSON endpoints (regfs only)", report.markdown_table(
                ui_rows, [("regfs", "regfs")], [], unavailable)))
        browser_rows = [r for r in self.rows if r.table == "ui"]
        if browser_rows:
            sections.append(("The web UI in headless Chromium (regfs only)",
                             report.markdown_table(browser_rows, [("regfs", "regfs")], [],
                                                   unavailable)))
        contents_rows = [r for r in self.rows if r.table == "contents"]
        if self.contents_unavailable:
            sections.append(("Inside images (rootfs/ through regfs-mount)", self.contents_unavailable))
        elif contents_rows:
            sections.append(("Inside images (rootfs/ through regfs-mount) against the usual tools",
                             report.markdown_table(contents_rows, [("regfs", "regfs"),
                                                                   ("other", "other")],
                                                   [("other", "regfs/other")])))
        retention_rows = [r for r in self.rows if r.table == "retention"]
        if retention_rows:
            sections.append(("Retention (regfsctl retention on tmpfs)",
                             report.markdown_table(retention_rows, [("regfs", "regfs")], [],
                                                   unavailable)))
        mirror_rows = [r for r in self.rows if r.table == "mirror"]
        if mirror_rows:
            sections.append(("Pull-through cache: regfs and the reference as mirrors of one "
                             "upstream", report.markdown_table(
                                 mirror_rows, srv_cols[:2] + [("direct", "direct")],
                                 [("reference", "regfs/ref"), ("direct", "regfs/direct")],
                                 unavailable)))
        notes = []
        for name, why in self.unavailable.items():
            notes.append("%s: n/a — %s" % (name, why))
        for r in self.rows:
            for name, why in r.errors.items():
                notes.append("%s, %s: %s" % (r.title, name, why))
            if r.note:
                notes.append("%s: %s" % (r.title, r.note))
        notes += self.notes
        if s3_rows:
            notes.append(
                "S3: one single-node Ceph (monitor, one bluestore OSD on a sparse file in the "
                "work directory, radosgw) on loopback; regfs and the reference each on their own "
                "bucket with redirects disabled, so every byte passes through the registry. Each "
                "round starts each registry afresh on a new port (skopeo would otherwise mount "
                "blobs it pushed before) and pushes to a new repository; skopeo copies from an "
                "OCI layout on disk (one gzip layer of random data) and pulls into a fresh one.")
        if len(self.rows) == len(s3_rows) + len(retention_rows) + len(mirror_rows):
            return self._write_files(header, sections, notes, started, command)
        notes += [
            "HEAD load comes from ab (whole-millisecond percentiles): wrk 4.1 waits for a body "
            "after a HEAD response. Every other request load comes from wrk -t1.",
            "nginx serves the same blob files with sendfile at the registry's URLs (the "
            "listings are the reference's answers as static files): the yardstick of the "
            "targets, not a registry, and not always the fastest way (on some kernels reading "
            "and sending 1 MiB pieces beats sendfile).",
            "The read-side stores are generated in distribution's layout on tmpfs and served "
            "warm; uploads, docker pushes and the cold-cache read use the work directory's disk.",
        ]
        return self._write_files(header, sections, notes, started, command)

    def _write_files(self, header, sections, notes, started, command):
        p = self.p
        all_servers = ["regfs", "reference", "nginx", "view", "direct"]
        self.meta.update({
            "started": started.isoformat(), "command": command, "profile": p,
            "unavailable": self.unavailable, "view_unavailable": self.view_unavailable,
            "rows": [r.to_json(all_servers) for r in self.rows],
            "ceilings": [{"title": t, "value": v, "unit": u} for t, v, u in self.ceilings],
            "notes": notes,
        })
        # The results are shared: this machine's directories do not belong in them.
        places = [(self.a.workdir, "WORKDIR"), (self.a.memdir, "MEMDIR")]
        if self.a.mount_bin:
            places.append((self.a.mount_bin, "regfs-mount"))
        places.append((self.a.regfs_bin, "BINDIR"))

        def scrub(text):
            for place, name in places:
                text = text.replace(place, name)
            return text

        header = [scrub(x) for x in header]
        sections = [(t, scrub(x)) for t, x in sections]
        notes = [scrub(x) for x in notes]
        self.meta = json.loads(scrub(json.dumps(self.meta, default=str)))
        results = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
        os.makedirs(results, exist_ok=True)
        # Only a whole run replaces latest.*; a run of some sections, or a quick one, writes
        # beside it (latest-view.md, latest-blob,upload-quick.md, ...).
        stem = "latest"
        only = [x for x in self.a.only.split(",") if x]
        if sorted(only) != sorted(SECTIONS):
            stem += "-" + ",".join(only)
        if self.a.quick:
            stem += "-quick"
        return report.write(os.path.join(results, stem + ".md"),
                            os.path.join(results, stem + ".json"), header, sections, notes,
                            self.meta)


def main(argv):
    ap = argparse.ArgumentParser(description="regfs side-by-side benchmark (run via bench/run.sh)")
    ap.add_argument("--workdir", required=True, help="scratch directory on disk (emptied by run.sh)")
    ap.add_argument("--memdir", required=True, help="scratch directory on tmpfs for generated stores")
    ap.add_argument("--regfs-bin", required=True, help="directory with regfs-server and regfs-mount")
    ap.add_argument("--mount-bin", help="regfs-mount to use instead of the one in --regfs-bin")
    ap.add_argument("--quick", action="store_true", help="small sizes, fewer rounds")
    ap.add_argument("--rounds", type=int, help="rounds per measurement")
    ap.add_argument("--seconds", type=int, help="seconds per load-generator run")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help="comma-separated sections: " + ",".join(SECTIONS))
    ap.add_argument("--command", default="bench/run.sh", help="the command line, for the report")
    a = ap.parse_args(argv)
    sections = [s for s in a.only.split(",") if s]
    for s in sections:
        if s not in SECTIONS:
            ap.error("unknown section %s" % s)

    procs = Procs(a.workdir)

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    b = Bench(a, procs)
    try:
        if set(sections) - {"docker", "s3", "contents", "retention", "mirror"}:
            b.prepare()
        if {"api", "catalog", "blob"} & set(sections):
            b.read_phase(sections)
        if "upload" in sections:
            b.upload_phase()
        if "docker" in sections:
            b.docker_phase()
        if "view" in sections:
            b.view_phase()
        if "contents" in sections:
            b.contents_phase()
        if "s3" in sections:
            b.s3_phase()
        if "ui-api" in sections:
            b.ui_api_phase()
        if "ui" in sections:
            b.ui_phase()
        if "retention" in sections:
            b.retention_phase()
        if "mirror" in sections:
            b.mirror_phase()
    except BaseException as e:  # still report what was measured, then fail
        code = getattr(e, "code", None)
        b.notes.append("the run stopped early: %s" % (
            "signal %d" % (code - 128) if isinstance(code, int) and code > 128 else repr(e)))
        raise
    finally:
        procs.stop_all()
        b.notes.append("whole run: %.0f s" % (time.monotonic() - t0))
        if b.rows:
            print(b.write(started, a.command))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
