"""The pull-through cache (`--only mirror`): regfs-server as a mirror (proxy.remoteurl) against
distribution's proxy (Debian's docker-registry with the same setting), both in front of one
upstream, a regfs-server on tmpfs holding an image of several layers of random bytes. The
client is bench/loadgen.py's pull: the manifest, then the blobs three at a time with curl to
/dev/null, so only transfer is measured. The upstream counts what it sends (its
registry_http_response_bytes_total on http.debug.addr)."""

import contextlib
import os
import shutil
import subprocess
import threading
import time

import loadgen
import store_gen
from servers import RegistryServer, free_port

MB = 1e6
CONCURRENT = 8
LAYERS = 4


def generate_image(root, name, total, label):
    """`name`:latest in the store at `root`: LAYERS layers of random bytes adding up to `total`
    and their config. Returns the bytes of its blobs (config and layers) and the blob paths."""
    store = store_gen.Store(root)
    layers = []
    for _ in range(LAYERS):
        h, size = store.put_random_blob(total // LAYERS)
        layers.append((h, size, store_gen.LAYER_GZIP))
    config = store_gen.image_config([h for h, _, _ in layers], label)
    m_hex, _, blobs = store_gen.image_manifest(store, config, layers)
    store.add_manifest(name, m_hex, blobs)
    store.tag(name, "latest", m_hex)
    paths = [store_gen.blob_path(root, h) for h in blobs]
    return sum(os.path.getsize(p) for p in paths), paths


def rate(pull, nbytes):
    """MB/s of a loadgen.pull that brought `nbytes`; None when it failed."""
    return None if pull["error"] else nbytes / pull["seconds"] / MB


def sha256_speed():
    """MB/s of SHA-256 on one core, as openssl speed reports it; None if it cannot say."""
    r = subprocess.run(["openssl", "speed", "-seconds", "1", "-bytes", "1048576", "-evp",
                        "sha256"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        parts = line.split()
        if parts and parts[0].lower() == "sha256" and parts[-1].endswith("k"):
            return float(parts[-1][:-1]) * 1000 / MB
    return None


class Upstream:
    """The upstream registry: a regfs-server over `root` with its metrics on a debug port."""

    def __init__(self, bench, root, fetch):
        self.fetch = fetch
        self.metrics_addr = "127.0.0.1:%d" % free_port()
        self.server = RegistryServer("upstream", [bench.regfs_server], root, bench.procs,
                                     bench.logdir,
                                     env={"REGISTRY_HTTP_DEBUG_ADDR": self.metrics_addr}).start()

    def bytes_sent(self):
        """Blob body bytes sent so far (manifests, a few KiB, are left out: the image's size
        counts its config and layers)."""
        status, _, body = self.fetch("http://%s/metrics" % self.metrics_addr)
        if status != 200:
            raise RuntimeError("the upstream's /metrics answered %s" % status)
        for line in body.decode().splitlines():
            if line.startswith('registry_http_response_bytes_total{handler="blob"}'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


class MirrorBench:
    """`bench` is bench.py's Bench (rows, servers, notes); `tools` its helpers: log, order,
    settle, fetch, summary."""

    def __init__(self, bench, tools):
        self.b = bench
        self.t = tools
        self.p = bench.p
        self.image_mib = self.p["mirror_mib"]
        self.big_mib = self.p["mirror_rss_mib"]

    @contextlib.contextmanager
    def mirror(self, name, upstream, store):
        """A fresh mirror (`name`: regfs or reference) of `upstream` on an empty store named
        `store` on tmpfs, with the page cache settled; None when it cannot run. Stopped and
        its store removed at the end."""
        if name in self.b.unavailable:
            yield None
            return
        root = os.path.join(self.b.mem, store)
        shutil.rmtree(root, ignore_errors=True)
        s = self.b.registry(name, root, env={"REGISTRY_PROXY_REMOTEURL": upstream.server.url})
        try:
            self.t.settle()
            yield s if s.available else None
        finally:
            s.stop()
            shutil.rmtree(root, ignore_errors=True)

    def run(self):
        b = self.b
        what = "%d MiB image (%d layers of random bytes)" % (self.image_mib, LAYERS)
        rows = dict(
            cold=b.row("mirror_cold_pull", "mirror",
                       "cold pull of a %s through the mirror; direct: from the upstream" % what,
                       "MB/s", targets=[("direct", "≥", 0.9)]),
            warm=b.row("mirror_warm_pull", "mirror",
                       "warm pull of the same image from the mirror; direct: from the upstream "
                       "(a local regfs)", "MB/s", targets=[("direct", "≥", 0.95)]),
            cold_up=b.row("mirror_cold_upstream", "mirror",
                          "upstream bytes during one cold pull, × the image", "×",
                          higher_is_better=False, targets=[("absolute", "≤", 1.0)]),
            conc_wall=b.row("mirror_concurrent_wall", "mirror",
                            "%d concurrent cold pulls: wall time, × one cold pull of the same "
                            "round" % CONCURRENT, "×", higher_is_better=False,
                            targets=[("absolute", "≤", 1.2)]),
            conc_up=b.row("mirror_concurrent_upstream", "mirror",
                          "%d concurrent cold pulls: upstream bytes, × the image" % CONCURRENT,
                          "×", higher_is_better=False, targets=[("absolute", "≤", 1.0)]),
            conc_warm=b.row("mirror_concurrent_warm", "mirror",
                            "%d concurrent warm pulls from the same mirror: wall time, × one cold "
                            "pull (sending the clients their bytes, without the fetch)"
                            % CONCURRENT, "×", higher_is_better=False),
            conc_rate=b.row("mirror_concurrent_rate", "mirror",
                            "%d concurrent cold pulls: bytes to the clients / wall time"
                            % CONCURRENT, "MB/s"),
        )
        rss = b.row("mirror_rss", "mirror",
                    "peak RSS over one cold pull of a %d MiB image (VmHWM)" % self.big_mib, "MiB",
                    higher_is_better=False, targets=[("absolute", "≤", 64)])
        big_rate = b.row("mirror_big_cold_pull", "mirror",
                         "cold pull of the %d MiB image through the mirror" % self.big_mib, "MB/s")
        up_root = os.path.join(b.mem, "mirror-upstream")
        t0 = time.monotonic()
        image_bytes, _ = generate_image(up_root, "library/image", self.image_mib << 20, "image")
        big_bytes, big_paths = generate_image(up_root, "library/big", self.big_mib << 20, "big")
        self.t.log("mirror: upstream store with %d and %d MiB images (%.1f s)" % (
            self.image_mib, self.big_mib, time.monotonic() - t0))
        upstream = Upstream(b, up_root, self.t.fetch)
        try:
            if not upstream.server.available:
                b.unavailable.setdefault("upstream", upstream.server.note)
                return
            for rnd in range(self.p["rounds"]):
                single = {}
                for name in self.t.order(["regfs", "reference", "direct"], rnd):
                    single[name] = self._single(name, upstream, image_bytes, rows, rnd)
                for name in self.t.order(["regfs", "reference"], rnd):
                    self._concurrent(name, upstream, image_bytes, rows, single.get(name), rnd)
            for name in ("regfs", "reference"):
                self._big(name, upstream, big_bytes, rss, big_rate)
        finally:
            upstream.server.stop()
            shutil.rmtree(up_root, ignore_errors=True)
        for r in list(rows.values()) + [rss, big_rate]:
            self.t.log("%s: %s" % (r.title, self.t.summary(r)))
        b.notes.append(
            "mirror: the upstream is a regfs-server on tmpfs; each cold measurement starts the "
            "mirror afresh on an empty store on tmpfs (regfs-server, or docker-registry with "
            "REGISTRY_PROXY_REMOTEURL); the warm pull follows the cold one on the same mirror. "
            "A pull is bench/loadgen.py's: GET the manifest by tag, then the config and the %d "
            "layers, 3 at a time, with curl --parallel to /dev/null (status and size checked, "
            "nothing hashed). Upstream bytes are the upstream's "
            "registry_http_response_bytes_total{handler=\"blob\"} over the image's config and "
            "layers (manifests left out). direct: the same pull "
            "from the upstream itself. The %d concurrent warm pulls follow the %d cold ones on "
            "the same mirror: the same bytes to the same clients without the fetch, the part of "
            "the cold pulls' time that sending to the clients takes on this host."
            % (LAYERS, CONCURRENT, CONCURRENT))
        sha = sha256_speed()
        if sha:
            b.notes.append(
                "mirror: SHA-256 on one core (openssl speed -evp sha256, 1 MiB blocks) runs at "
                "%.0f MB/s here. A mirror hashes every byte of a cold pull as it streams "
                "(regfs in its fill thread); the direct pull is the upstream's sendfile, "
                "hashed by no one." % sha)

    def _single(self, name, upstream, image_bytes, rows, rnd):
        """One cold pull and one warm pull (direct: one pull from the upstream, which is both
        rows' yardstick); returns the cold pull's seconds or None."""
        if name == "direct":
            res = loadgen.pull(upstream.server.url, "library/image", "latest")
            rows["cold"].add("direct", rate(res, image_bytes), error=res["error"])
            res = loadgen.pull(upstream.server.url, "library/image", "latest")
            rows["warm"].add("direct", rate(res, image_bytes),
                             error=res["error"])
            return None
        with self.mirror(name, upstream, "mirror-" + name) as s:
            if s is None:
                return None
            before = upstream.bytes_sent()
            res = loadgen.pull(s.url, "library/image", "latest")
            cold = res["seconds"]
            rows["cold"].add(name, rate(res, image_bytes),
                             error=res["error"])
            rows["cold_up"].add(name, (upstream.bytes_sent() - before) / image_bytes)
            if res["error"]:
                self.t.log("%s cold pull, round %d: %s" % (name, rnd + 1, res["error"]))
            res = loadgen.pull(s.url, "library/image", "latest")
            rows["warm"].add(name, rate(res, image_bytes),
                             error=res["error"])
            return cold

    def _concurrent(self, name, upstream, image_bytes, rows, single, rnd):
        with self.mirror(name, upstream, "mirror-" + name) as s:
            if s is None:
                return
            before = upstream.bytes_sent()
            cold = self._pulls(s.url)
            wall, results, errors = cold["wall"], cold["results"], cold["errors"]
            sent = upstream.bytes_sent() - before
            why = "%d of %d pulls failed: %s" % (len(errors), CONCURRENT, errors[0]) if errors \
                else None
            if why:
                self.t.log("%s, %d concurrent pulls, round %d: %s" % (
                    name, CONCURRENT, rnd + 1, why))
            if single is None and not why:
                why = "no single cold pull in this round to compare with"
            rows["conc_wall"].add(name, None if why else wall / single, error=why)
            rows["conc_up"].add(name, sent / image_bytes)
            rows["conc_rate"].add(name, None if errors else
                                  sum(r["bytes"] for r in results) / wall / MB,
                                  error=why if errors else None)
            if why:
                return
            warm = self._pulls(s.url)
            rows["conc_warm"].add(name, warm["wall"] / single if not warm["errors"] else None,
                                  error=warm["errors"][0] if warm["errors"] else None)

    def _pulls(self, url):
        """CONCURRENT pulls of the image from `url` at once: their wall time and errors."""
        results = [None] * CONCURRENT

        def one(i):
            results[i] = loadgen.pull(url, "library/image", "latest")

        threads = [threading.Thread(target=one, args=(i,)) for i in range(CONCURRENT)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return {"wall": time.monotonic() - t0, "results": results,
                "errors": [r["error"] for r in results if r["error"]]}

    def _big(self, name, upstream, big_bytes, rss, big_rate):
        with self.mirror(name, upstream, "mirror-big-" + name) as s:
            if s is None:
                return
            res = loadgen.pull(s.url, "library/big", "latest")
            big_rate.add(name, rate(res, big_bytes), error=res["error"])
            rss.add(name, s.vmhwm_mib() if not res["error"] else None, error=res["error"])
