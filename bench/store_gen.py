#!/usr/bin/env python3
"""Writes registry stores in distribution's on-disk layout directly, for the benchmark.

Pushing 10,000 repositories through an API takes longer than the benchmark itself, so the
stores are written file by file, exactly as distribution (registry:2) lays them out:

  <root>/docker/registry/v2/blobs/sha256/<hh>/<hex>/data
  <root>/docker/registry/v2/repositories/<name>/_layers/sha256/<hex>/link
  <root>/docker/registry/v2/repositories/<name>/_manifests/revisions/sha256/<hex>/link
  <root>/docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link
  <root>/docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/index/sha256/<hex>/link

A link file holds "sha256:<hex>" with no newline. Standard library only.

As a program: store_gen.py main ROOT [--repos N] [--big-mib M]
              store_gen.py view ROOT [--repos N] [--tags T]
prints a JSON description of what it wrote (names, tags, digests, paths).
"""

import argparse
import errno
import hashlib
import io
import json
import os
import shutil
import sys
import time

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_V1 = "application/vnd.docker.container.image.v1+json"
LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def v2(root):
    return os.path.join(root, "docker", "registry", "v2")


def blob_path(root, hexdigest):
    return os.path.join(v2(root), "blobs", "sha256", hexdigest[:2], hexdigest, "data")


def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def _link(path, hexdigest):
    _write(path, ("sha256:" + hexdigest).encode())


class Store:
    """One store root; remembers which blobs it already holds."""

    def __init__(self, root):
        self.root = root
        self.blobs = set()
        os.makedirs(os.path.join(v2(root), "repositories"), exist_ok=True)
        os.makedirs(os.path.join(v2(root), "blobs", "sha256"), exist_ok=True)

    def put_blob(self, data):
        """Stores bytes as a blob; returns (hex, size)."""
        hexdigest = hashlib.sha256(data).hexdigest()
        if hexdigest not in self.blobs:
            _write(blob_path(self.root, hexdigest), data)
            self.blobs.add(hexdigest)
        return hexdigest, len(data)

    def put_random_blob(self, size, chunk=8 << 20):
        """Streams `size` random bytes into a blob without holding them; returns (hex, size)."""
        tmp = os.path.join(v2(self.root), "blobs", ".random-%d.tmp" % os.getpid())
        h = hashlib.sha256()
        with open(tmp, "wb") as f:
            left = size
            while left > 0:
                piece = os.urandom(min(chunk, left))
                h.update(piece)
                f.write(piece)
                left -= len(piece)
        hexdigest = h.hexdigest()
        dest = blob_path(self.root, hexdigest)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.replace(tmp, dest)
        self.blobs.add(hexdigest)
        return hexdigest, size

    def link_blob_from(self, other_root, hexdigest):
        """Hard-links (or, across file systems, copies) a blob of another store into this one."""
        dest = blob_path(self.root, hexdigest)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if not os.path.exists(dest):
            try:
                os.link(blob_path(other_root, hexdigest), dest)
            except OSError as e:
                if e.errno != errno.EXDEV:
                    raise
                shutil.copyfile(blob_path(other_root, hexdigest), dest)
        self.blobs.add(hexdigest)

    def repo_dir(self, name):
        return os.path.join(v2(self.root), "repositories", *name.split("/"))

    def link_layer(self, name, hexdigest):
        _link(os.path.join(self.repo_dir(name), "_layers", "sha256", hexdigest, "link"), hexdigest)

    def add_manifest(self, name, manifest_hex, blob_hexes):
        """Makes an already stored manifest part of `name`, with its blobs readable there."""
        base = os.path.join(self.repo_dir(name), "_manifests")
        _link(os.path.join(base, "revisions", "sha256", manifest_hex, "link"), manifest_hex)
        for h in blob_hexes:
            self.link_layer(name, h)

    def tag(self, name, tag, manifest_hex):
        base = os.path.join(self.repo_dir(name), "_manifests", "tags", tag)
        _link(os.path.join(base, "current", "link"), manifest_hex)
        _link(os.path.join(base, "index", "sha256", manifest_hex, "link"), manifest_hex)


def manifest_bytes(config_hex, config_size, layers):
    """An image manifest (Docker v2) of a config and `layers` [(hex, size, mediaType)]."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_V2,
        "config": {"mediaType": CONFIG_V1, "size": config_size, "digest": "sha256:" + config_hex},
        "layers": [{"mediaType": mt, "size": size, "digest": "sha256:" + h} for h, size, mt in layers],
    }
    return json.dumps(manifest, indent=3).encode()


def image_manifest(store, config_bytes, layers):
    """Stores config and manifest for `layers` [(hex, size, mediaType)]; returns (hex, bytes, blob hexes)."""
    config_hex, config_size = store.put_blob(config_bytes)
    data = manifest_bytes(config_hex, config_size, layers)
    manifest_hex, _ = store.put_blob(data)
    return manifest_hex, data, [config_hex] + [h for h, _, _ in layers]


def image_config(diff_ids, label):
    return json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Labels": {"bench": label}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + d for d in diff_ids]},
        "history": [{"created_by": "bench"} for _ in diff_ids],
    }, sort_keys=True).encode()


def generate_main(root, repos, big_size):
    """The read-side store: bench/small (a ~1 KiB manifest, four small layers), bench/big (one
    layer of `big_size` random bytes) and filler repositories up to `repos` in all."""
    store = Store(root)
    out = {"root": root}

    layers = []
    for i in range(4):
        h, size = store.put_blob(os.urandom(2048 + 512 * i))
        layers.append((h, size, LAYER_GZIP))
    config = image_config([h for h, _, _ in layers], "small")
    m_hex, m_bytes, small_blobs = image_manifest(store, config, layers)
    store.add_manifest("bench/small", m_hex, small_blobs)
    store.tag("bench/small", "latest", m_hex)
    out["small"] = {"name": "bench/small", "tag": "latest", "manifest": m_hex, "blobs": small_blobs,
                    "manifest_size": len(m_bytes), "manifest_type": MANIFEST_V2,
                    "layer": layers[0][0], "layer_size": layers[0][1]}

    big_hex, _ = store.put_random_blob(big_size)
    config = image_config([big_hex], "big")
    bm_hex, _, blob_hexes = image_manifest(store, config, [(big_hex, big_size, LAYER_GZIP)])
    store.add_manifest("bench/big", bm_hex, blob_hexes)
    store.tag("bench/big", "latest", bm_hex)
    out["big"] = {"name": "bench/big", "tag": "latest", "manifest": bm_hex,
                  "blob": big_hex, "blob_size": big_size}

    # Filler repositories all hold the same small image, as many mirrors of one base image do.
    fillers = max(0, repos - 2)
    for i in range(fillers):
        name = "cat/r%05d" % i
        store.add_manifest(name, m_hex, small_blobs)
        store.tag(name, "latest", m_hex)
    out["repositories"] = fillers + 2
    return out


def add_many_tags(root, name, count, manifest_hex, blob_hexes):
    """`count` tags of one image in `name` (t00000, ...), pushed one second apart in a
    scrambled order (their current links' mtimes), so that push order is not name order."""
    store = Store(root)
    store.add_manifest(name, manifest_hex, blob_hexes)
    base = os.path.join(store.repo_dir(name), "_manifests", "tags")
    for i in range(count):
        tag = "t%05d" % i
        store.tag(name, tag, manifest_hex)
        when = 1_700_000_000 + (i * 7919) % count
        os.utime(os.path.join(base, tag, "current", "link"), (when, when))


def generate_view(root, repos, tags, big_from=None):
    """The view store: `repos` repositories with `tags` tags each, every tag its own manifest
    (own config, one base layer shared by all, one layer per repository). With big_from =
    (main_root, big_hex, big_size), also bench/big whose layer comes from the main store."""
    store = Store(root)
    base_hex, base_size = store.put_blob(os.urandom(256 << 10))
    for r in range(repos):
        name = "view/r%04d" % r
        own_hex, own_size = store.put_blob(os.urandom(4096))
        for t in range(tags):
            layers = [(base_hex, base_size, LAYER_GZIP), (own_hex, own_size, LAYER_GZIP)]
            config = image_config([base_hex, own_hex], "%s:%d" % (name, t))
            m_hex, _, blob_hexes = image_manifest(store, config, layers)
            store.add_manifest(name, m_hex, blob_hexes)
            store.tag(name, "t%d" % t, m_hex)
    out = {"root": root, "repositories": repos, "tags": repos * tags}
    if big_from:
        main_root, big_hex, big_size = big_from
        store.link_blob_from(main_root, big_hex)
        config = image_config([big_hex], "big")
        m_hex, _, blob_hexes = image_manifest(store, config, [(big_hex, big_size, LAYER_GZIP)])
        store.add_manifest("bench/big", m_hex, blob_hexes)
        store.tag("bench/big", "latest", m_hex)
        out["big"] = {"name": "bench/big", "tag": "latest", "manifest": m_hex, "blob": big_hex}
    return out


LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


def write_layer_tar(path, files, total, seed):
    """A tar of `files` regular files (and their directories) of about `total` bytes in all,
    deterministic for a seed: sizes spread from 64 B to 64 KiB around the mean, contents half
    text (compresses about 3x, as a distribution's files do) and half random bytes. Returns
    [(path, size)] of the files, in tar order."""
    import random
    import tarfile
    rng = random.Random(seed)
    words = [("w%04x" % rng.randrange(1 << 16)).encode() for _ in range(4096)]
    mean = max(64, total // max(files, 1))
    listed = []
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        per_dir = max(1, -(-files // 900))  # 30 × 30 directories, filled one after another
        for i in range(files):
            d = i // per_dir  # as tar writes a tree: depth first, a directory's files together
            directory = "usr/d%02d/s%02d" % (d // 30 % 30, d % 30)
            parts = directory.split("/")
            for k in range(1, len(parts) + 1):
                d = "/".join(parts[:k])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    info.mtime = 1700000000
                    tar.addfile(info)
            size = min(64 << 10, max(64, int(rng.expovariate(1.0 / mean))))
            if i % 2:
                data = os.urandom(size)
            else:
                text = b" ".join(rng.choice(words) for _ in range(size // 5 + 1))
                data = text[:size]
            name = "%s/f%06d" % (directory, i)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))
            listed.append((name, len(data)))
    return listed


def put_blob_file(store, path):
    """Moves a file into the store as a blob; returns (hex, size)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(8 << 20), b""):
            h.update(piece)
    hexdigest = h.hexdigest()
    dest = blob_path(store.root, hexdigest)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copyfile(path, dest)
    store.blobs.add(hexdigest)
    return hexdigest, os.path.getsize(dest)


def generate_contents(root, work, files, total, browse_images):
    """The images-as-files store: one layer of `files` files (~`total` bytes uncompressed) as
    contents/gzip, contents/zstd and contents/plain (the same tar three ways), and
    `browse_images` images contents/browse:tNN, each that gzip layer under a small layer of its
    own. The layer files stay in `work` for the tools to compare with."""
    import subprocess
    store = Store(root)
    tar = os.path.join(work, "layer.tar")
    listed = write_layer_tar(tar, files, total, 1)
    subprocess.run("gzip -6 -n -c '%s' > '%s.gz'" % (tar, tar), shell=True, check=True)
    subprocess.run(["zstd", "-q", "-3", "-f", tar, "-o", tar + ".zst"], check=True)
    diff_id = hashlib.sha256(open(tar, "rb").read()).hexdigest()
    out = {"root": root, "tar": tar, "gz": tar + ".gz", "zst": tar + ".zst", "files": listed,
           "uncompressed": os.path.getsize(tar), "diff_id": diff_id, "images": {}}
    layer_hex = {}
    for kind, path, media in (("gzip", tar + ".gz", LAYER_GZIP), ("zstd", tar + ".zst", LAYER_ZSTD),
                              ("plain", tar, LAYER_TAR)):
        h, size = put_blob_file(store, path)
        layer_hex[kind] = (h, size, media)
        config = image_config([diff_id], "contents-" + kind)
        m_hex, _, blobs = image_manifest(store, config, [(h, size, media)])
        name = "contents/" + kind
        store.add_manifest(name, m_hex, blobs)
        store.tag(name, "latest", m_hex)
        out["images"][kind] = {"name": name, "tag": "latest", "layer": h}
    for i in range(browse_images):
        top = os.path.join(work, "top-%d.tar" % i)
        write_layer_tar(top, 100, 100 << 10, 100 + i)
        subprocess.run(["gzip", "-n", "-f", top], check=True)
        h, size = put_blob_file(store, top + ".gz")
        top_diff = hashlib.sha256(subprocess.run(["gzip", "-dc", top + ".gz"], check=True,
                                                 stdout=subprocess.PIPE).stdout).hexdigest()
        config = image_config([diff_id, top_diff], "browse-%d" % i)
        m_hex, _, blobs = image_manifest(store, config, [layer_hex["gzip"], (h, size, LAYER_GZIP)])
        store.add_manifest("contents/browse", m_hex, blobs)
        store.tag("contents/browse", "t%02d" % i, m_hex)
    out["browse"] = ["t%02d" % i for i in range(browse_images)]
    return out


def generate_retention(root, repos, tags_per_repo, old_seconds):
    """A store of `repos` repositories of `tags_per_repo` tags, each tag its own one-layer
    image; every link is aged `old_seconds`, except the newest half of each repository's tags,
    which are spread over the last hour. Returns the number of tags."""
    store = Store(root)
    now = time.time()
    layer_hex, layer_size = store.put_blob(b"retention bench layer")
    for r in range(repos):
        name = "retention/repo%03d" % r
        for t in range(tags_per_repo):
            config = image_config([layer_hex], "%s:%d" % (name, t))
            manifest_hex, _, blobs = image_manifest(store, config, [(layer_hex, layer_size, LAYER_GZIP)])
            store.add_manifest(name, manifest_hex, blobs)
            tag = "t%05d" % t
            store.tag(name, tag, manifest_hex)
            age = old_seconds if t < tags_per_repo // 2 else (tags_per_repo - t)
            stamp = now - age
            base = os.path.join(store.repo_dir(name), "_manifests")
            for link in (os.path.join(base, "tags", tag, "current", "link"),
                         os.path.join(base, "revisions", "sha256", manifest_hex, "link")):
                os.utime(link, (stamp, stamp))
    return repos * tags_per_repo


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="kind", required=True)
    m = sub.add_parser("main")
    m.add_argument("root")
    m.add_argument("--repos", type=int, default=10000)
    m.add_argument("--big-mib", type=int, default=512)
    v = sub.add_parser("view")
    v.add_argument("root")
    v.add_argument("--repos", type=int, default=1000)
    v.add_argument("--tags", type=int, default=10)
    a = p.parse_args(argv)
    if a.kind == "main":
        out = generate_main(a.root, a.repos, a.big_mib << 20)
    else:
        out = generate_view(a.root, a.repos, a.tags)
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
