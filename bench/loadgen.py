"""Thin wrappers that run real load generators and clients and parse what they print:
wrk (GET load), ab (HEAD load: wrk 4.1 waits for a body after a HEAD response and stalls),
curl (blob downloads and uploads)."""

import json
import re
import subprocess
import time
import urllib.parse


def _ms(value, unit):
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url, connections, seconds, headers=(), timeout_s=30, script=None, script_args=()):
    """GET `url` from `connections` keep-alive connections for `seconds` (one wrk thread; the
    other core is the server's). Returns {rps, p50_ms, p99_ms, requests, errors, ok, raw}."""
    argv = ["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "--latency",
            "--timeout", "%ds" % timeout_s]
    for h in headers:
        argv += ["-H", h]
    if script:
        argv += ["-s", script]
    argv.append(url)
    if script_args:
        argv += ["--"] + list(script_args)
    out = subprocess.run(argv, capture_output=True, text=True).stdout
    res = {"rps": None, "p50_ms": None, "p99_ms": None, "requests": 0, "errors": 0, "raw": out}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        res["rps"] = float(m.group(1))
    m = re.search(r"^\s*50%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    if m:
        res["p50_ms"] = _ms(m.group(1), m.group(2))
    m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    if m:
        res["p99_ms"] = _ms(m.group(1), m.group(2))
    m = re.search(r"(\d+) requests in", out)
    if m:
        res["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        res["errors"] += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        # Read errors count peers closing idle connections; connect/write/timeout are failures.
        res["errors"] += int(m.group(1)) + int(m.group(3)) + int(m.group(4))
    res["ok"] = res["rps"] is not None and res["requests"] > 0 and res["errors"] == 0
    return res


def ab_head(url, connections, seconds):
    """HEAD `url` with ApacheBench (keep-alive) for `seconds`. ab reports whole milliseconds."""
    argv = ["ab", "-q", "-k", "-i", "-r", "-c", str(connections), "-t", str(seconds),
            "-n", "100000000", url]
    out = subprocess.run(argv, capture_output=True, text=True).stdout
    res = {"rps": None, "p50_ms": None, "p99_ms": None, "requests": 0, "errors": 0, "raw": out}
    m = re.search(r"Requests per second:\s+([\d.]+)", out)
    if m:
        res["rps"] = float(m.group(1))
    m = re.search(r"^\s*99%\s+(\d+)", out, re.M)
    if m:
        res["p99_ms"] = float(m.group(1))
    m = re.search(r"Complete requests:\s+(\d+)", out)
    if m:
        res["requests"] = int(m.group(1))
    for key in ("Failed requests", "Non-2xx responses"):
        m = re.search(key + r":\s+(\d+)", out)
        if m:
            res["errors"] += int(m.group(1))
    res["ok"] = res["rps"] is not None and res["requests"] > 0 and res["errors"] == 0
    return res


def curl_get(urls, cafile=None):
    """Downloads each URL to /dev/null with curl, one after the other (trusting `cafile` for
    https); returns (bytes, seconds, statuses) summed over the downloads."""
    argv = ["curl", "-sS", "-w", "%{http_code} %{size_download} %{time_total}\\n"]
    if cafile:
        argv += ["--cacert", cafile]
    for u in urls:
        argv += ["-o", "/dev/null", u]
    out = subprocess.run(argv, capture_output=True, text=True).stdout
    total_bytes, total_s, statuses = 0, 0.0, []
    for line in out.splitlines():
        code, size, secs = line.split()
        statuses.append(int(code))
        total_bytes += int(size)
        total_s += float(secs)
    return total_bytes, total_s, statuses


def tls_session(url, cafile):
    """The protocol and cipher curl negotiates with `url`, as curl -v reports them."""
    r = subprocess.run(["curl", "-sS", "-v", "--cacert", cafile, "-o", "/dev/null", url],
                       capture_output=True, text=True)
    for line in r.stderr.splitlines():
        if "SSL connection using" in line:
            return line.split("SSL connection using", 1)[1].strip()
    return "(not reported)"


def _curl_headers(argv):
    """Runs curl printing response headers; returns (status, {lower-case name: value})."""
    out = subprocess.run(["curl", "-sS", "-D", "-", "-o", "/dev/null"] + argv,
                         capture_output=True, text=True).stdout
    status, headers = None, {}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("HTTP/"):
            status, headers = int(line.split()[1]), {}
        elif ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers


def _with_digest(location, digest):
    return location + ("&" if "?" in location else "?") + "digest=" + urllib.parse.quote(digest)


def _start_upload(base, repo):
    status, h = _curl_headers(["-X", "POST", "-H", "Content-Length: 0",
                               "%s/v2/%s/blobs/uploads/" % (base, repo)])
    if status != 202 or "location" not in h:
        raise RuntimeError("POST upload answered %s" % status)
    return urllib.parse.urljoin(base + "/", h["location"])


_NO_EXPECT = ["-H", "Expect:", "-H", "Content-Type: application/octet-stream"]


def upload_monolithic(base, repo, path, digest):
    """POST, then one streamed PUT ?digest= with the whole body (curl -T streams the file).
    Returns seconds from the POST to the 201."""
    t0 = time.monotonic()
    loc = _start_upload(base, repo)
    status, _ = _curl_headers(["-X", "PUT", "-T", path] + _NO_EXPECT + [_with_digest(loc, digest)])
    t = time.monotonic() - t0
    if status != 201:
        raise RuntimeError("PUT ?digest= answered %s" % status)
    return t


def upload_chunked(base, repo, chunks, digest):
    """POST, PATCH each chunk file with Content-Range, then PUT ?digest= without a body.
    Returns seconds from the POST to the 201."""
    t0 = time.monotonic()
    loc = _start_upload(base, repo)
    offset = 0
    for path, size in chunks:
        status, h = _curl_headers(["-X", "PATCH", "-T", path] + _NO_EXPECT +
                                  ["-H", "Content-Range: %d-%d" % (offset, offset + size - 1), loc])
        if status != 202 or "location" not in h:
            raise RuntimeError("PATCH at %d answered %s" % (offset, status))
        loc = urllib.parse.urljoin(base + "/", h["location"])
        offset += size
    status, _ = _curl_headers(["-X", "PUT", "-H", "Content-Length: 0"] + _NO_EXPECT +
                              [_with_digest(loc, digest)])
    t = time.monotonic() - t0
    if status != 201:
        raise RuntimeError("final PUT ?digest= answered %s" % status)
    return t


def put_manifest(base, repo, reference, path, media_type):
    """PUT the manifest in file `path` as `repo`:`reference`; raises unless it answers 201."""
    status, _ = _curl_headers(["-X", "PUT", "-T", path, "-H", "Expect:", "-H",
                               "Content-Type: " + media_type,
                               "%s/v2/%s/manifests/%s" % (base, repo, reference)])
    if status != 201:
        raise RuntimeError("PUT manifest answered %s" % status)


MANIFEST_ACCEPT = ("application/vnd.docker.distribution.manifest.v2+json, "
                   "application/vnd.oci.image.manifest.v1+json")


def pull(base, repo, tag, parallel=3, timeout_s=1800):
    """A pull as a container client makes one, transfer only: the manifest by tag, then its
    config and layers, `parallel` at a time (dockerd's default max-concurrent-downloads), each
    to /dev/null with curl --parallel. Nothing is hashed or unpacked: the sizes are checked.
    Returns {seconds, bytes (blob bodies), error (None when every answer was 200 and whole)}."""
    t0 = time.monotonic()
    url = "%s/v2/%s/manifests/%s" % (base, repo, tag)
    r = subprocess.run(["curl", "-sS", "-f", "-H", "Accept: " + MANIFEST_ACCEPT, url],
                       capture_output=True, timeout=timeout_s)
    res = {"seconds": None, "bytes": 0, "error": None}
    if r.returncode != 0:
        res["error"] = "GET manifest: curl exit %d: %s" % (r.returncode, r.stderr.decode(
            errors="replace").strip()[:160])
        return res
    try:
        manifest = json.loads(r.stdout)
        blobs = [manifest["config"]] + manifest["layers"]
        want = {b["digest"]: int(b["size"]) for b in blobs}
    except (ValueError, KeyError, TypeError) as e:
        res["error"] = "not an image manifest: %s" % e
        return res
    argv = ["curl", "-sS", "--parallel", "--parallel-max", str(parallel),
            "-w", "%{http_code} %{size_download} %{url_effective}\\n"]
    for digest in want:
        argv += ["-o", "/dev/null", "%s/v2/%s/blobs/%s" % (base, repo, digest)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    res["seconds"] = time.monotonic() - t0
    got = {}
    for line in r.stdout.splitlines():
        code, size, where = line.split(" ", 2)
        got[where.rsplit("/", 1)[1]] = (int(code), int(size))
        res["bytes"] += int(size)
    bad = ["%s: %s" % (d[:19], got.get(d)) for d, size in want.items()
           if got.get(d) != (200, size)]
    if r.returncode != 0 or bad:
        res["error"] = "curl exit %d; blobs not whole: %s %s" % (
            r.returncode, ", ".join(bad), r.stderr.strip()[:160])
        res["seconds"] = None
    return res
