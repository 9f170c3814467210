"""A single-node Ceph for the S3 section: one monitor, one bluestore OSD on a sparse file and
radosgw, all state in one directory, all on 127.0.0.1, every daemon in the foreground and
started through the bench's Procs (so it is stopped by PID). The same steps and ceph.conf as
the tests' harness; radosgw serves S3 with one user whose keys are fixed."""

import os
import subprocess
import time
import uuid

from procs import total_cpu_seconds
from servers import free_port, http_status

ACCESS_KEY = "REGFSBENCHACCESSKEY1"
SECRET_KEY = "regfs-bench-secret-key-0123456789abcdefgh"
REGION = "us-east-1"


class CephError(RuntimeError):
    pass


class Ceph:
    def __init__(self, procs, directory):
        self.procs = procs
        self.dir = directory
        self.conf = os.path.join(directory, "ceph.conf")
        self.rgw_port = None
        self.daemons = []  # Popen objects, in start order
        self.start_seconds = None

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.rgw_port

    def _run(self, argv, what=None):
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            raise CephError("%s failed (%d): %s%s%s" % (what or argv[0], r.returncode,
                                                       r.stderr.strip()[-500:], r.stdout[-300:],
                                                       self.logs()))
        return r.stdout

    def ceph(self, *args):
        return subprocess.run(["ceph", "-c", self.conf, "--connect-timeout", "20"] + list(args),
                              capture_output=True, text=True)

    def _daemon(self, name, argv):
        p = self.procs.start(argv, os.path.join(self.dir, name + ".out"))
        self.daemons.append(p)
        return p

    def _wait(self, what, limit, ready):
        deadline = time.time() + limit
        while time.time() < deadline:
            if ready():
                return
            time.sleep(0.1)
        raise CephError("%s within %d s: %s" % (what, limit, self.logs()))

    def start(self):
        t0 = time.monotonic()
        d = self.dir
        for sub in ("mon", "osd", "run", "rgw"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        mon_v2, mon_v1, self.rgw_port = free_port(), free_port(), free_port()
        fsid = str(uuid.uuid4())
        mon = "v2:127.0.0.1:%d,v1:127.0.0.1:%d" % (mon_v2, mon_v1)
        run = os.path.join(d, "run")
        conf = [
            "[global]",
            "fsid = " + fsid,
            "mon host = [%s]" % mon,
            "public addr = 127.0.0.1",
            "auth cluster required = none",
            "auth service required = none",
            "auth client required = none",
            # Without it radosgw waits forever for the monitor (get_initial_auth_request -13).
            "ms mon client mode = crc",
            "osd pool default size = 1",
            "osd pool default min size = 1",
            "osd pool default pg num = 8",
            "osd pool default pgp num = 8",
            "osd pool default pg autoscale mode = off",
            "osd crush chooseleaf type = 0",
            "mon allow pool size one = true",
            "mon warn on pool no redundancy = false",
            "run dir = " + run,
            "admin socket = %s/$name.asok" % run,
            "log file = %s/$name.log" % d,
            "keyring = %s/keyring" % d,
            "mon data = %s/mon/$id" % d,
            "osd data = %s/osd/$id" % d,
            "bluestore block create = true",
            "bluestore block size = %d" % (20 << 30),
            "osd objectstore = bluestore",
            "rgw data = %s/rgw" % d,
            # Without tcp_nodelay small GETs on a kept-alive connection wait for delayed ACKs.
            "rgw frontends = beast endpoint=127.0.0.1:%d tcp_nodelay=1" % self.rgw_port,
            "rgw dns name = 127.0.0.1",
        ]
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        monmap = os.path.join(d, "monmap")
        self._run(["monmaptool", "--create", "--fsid", fsid, "--addv", "a", "[%s]" % mon, monmap])
        self._run(["ceph-mon", "-c", self.conf, "--mkfs", "-i", "a", "--monmap", monmap])
        self._daemon("mon", ["ceph-mon", "-c", self.conf, "-i", "a", "-f"])
        self._wait("ceph-mon did not answer", 30,
                   lambda: self.ceph("mon", "stat").returncode == 0)

        osd_uuid = str(uuid.uuid4())
        r = self.ceph("osd", "new", osd_uuid)
        if r.returncode != 0:
            raise CephError("ceph osd new failed: " + r.stderr + self.logs())
        osd_id = r.stdout.strip()
        os.makedirs(os.path.join(d, "osd", osd_id), exist_ok=True)
        self._run(["ceph-osd", "-c", self.conf, "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid])
        self._daemon("osd", ["ceph-osd", "-c", self.conf, "-i", osd_id, "-f"])

        def osd_up():
            s = self.ceph("osd", "stat")
            return s.returncode == 0 and "1 up" in s.stdout

        self._wait("the OSD did not come up", 60, osd_up)
        rgw = self._daemon("rgw", ["radosgw", "-c", self.conf, "-n", "client.rgw.a", "-f"])
        self._wait("radosgw did not answer", 90,
                   lambda: rgw.poll() is None and http_status(self.endpoint + "/") == 200)
        self._run(["radosgw-admin", "-c", self.conf, "user", "create", "--uid=bench",
                   "--display-name=bench", "--access-key=" + ACCESS_KEY,
                   "--secret=" + SECRET_KEY])
        self.start_seconds = time.monotonic() - t0
        return self

    def create_bucket(self, bucket):
        self._run(["curl", "-sS", "-f", "-X", "PUT", "--aws-sigv4", "aws:amz:%s:s3" % REGION,
                   "--user", "%s:%s" % (ACCESS_KEY, SECRET_KEY), "-H",
                   "x-amz-content-sha256:UNSIGNED-PAYLOAD", "%s/%s" % (self.endpoint, bucket)],
                  "creating bucket " + bucket)

    def warm_up(self):
        """radosgw creates its data pool at the first object written and its non-EC pool at
        the first multipart upload, each taking a second or two: done here, in a bucket of its
        own, so that neither registry's first round pays for it."""
        bucket = "bench-warm-up"
        self.create_bucket(bucket)
        sign = ["curl", "-sS", "-f", "--aws-sigv4", "aws:amz:%s:s3" % REGION, "--user",
                "%s:%s" % (ACCESS_KEY, SECRET_KEY), "-H", "x-amz-content-sha256:UNSIGNED-PAYLOAD"]
        url = "%s/%s/object" % (self.endpoint, bucket)
        self._run(sign + ["-X", "PUT", "--data-binary", "x", url], "a first object")
        answer = self._run(sign + ["-X", "POST", url + "?uploads="], "a first multipart upload")
        upload_id = answer.split("<UploadId>", 1)[1].split("</UploadId>", 1)[0]
        self._run(sign + ["-X", "DELETE", url + "?uploadId=" + upload_id], "aborting it")
        self._run(sign + ["-X", "DELETE", url], "deleting the first object")

    def storage_yaml(self, bucket):
        """distribution's storage.s3 block for `bucket` (under `storage:`), blob GETs served
        by the registry itself (no redirect to presigned URLs)."""
        return ("  s3:\n    region: %s\n    regionendpoint: %s\n    bucket: %s\n"
                "    accesskey: %s\n    secretkey: %s\n    secure: false\n    v4auth: true\n"
                "    rootdirectory: /\n  redirect:\n    disable: true\n" % (
                    REGION, self.endpoint, bucket, ACCESS_KEY, SECRET_KEY))

    def logs(self):
        out = ""
        for name in ("mon.out", "osd.out", "rgw.out", "mon.a.log", "client.rgw.a.log"):
            path = os.path.join(self.dir, name)
            try:
                with open(path, errors="replace") as f:
                    text = f.read()[-2000:]
            except OSError:
                continue
            out += "\n--- %s ---\n%s" % (name, text)
        return out

    def cpu_seconds(self):
        """CPU time the daemons (monitor, OSD, gateway) have used so far."""
        return total_cpu_seconds(p.pid for p in self.daemons if p.poll() is None)

    def stop(self):
        """The gateway, the OSD, then the monitor, each by its PID."""
        for p in reversed(self.daemons):
            self.procs.stop(p, timeout=15)
        self.daemons = []
