"""The servers under test, each on its own loopback port: regfs-server, the reference registry
(Debian's docker-registry, i.e. distribution 2.8) and nginx serving the same blob files."""

import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

from procs import children, status_kib, total_cpu_seconds


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url, method="GET", timeout=2.0, cafile=None):
    req = urllib.request.Request(url, method=method)
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, urllib.error.URLError):
        return None


def make_certificate(directory):
    """A self-signed certificate for 127.0.0.1 (EC P-256, as a modern deployment would use);
    returns (certificate, key). The certificate is its own CA: clients trust it by file."""
    cert = os.path.join(directory, "tls.crt")
    key = os.path.join(directory, "tls.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key,
                    "-out", cert], check=True, capture_output=True)
    return cert, key


def registry_config(root, port, tls=None, storage=None):
    """registry:2's default config.yml, with logging down to errors for both registries (the
    access log would otherwise measure a terminal pipe); `tls` = (certificate, key) serves https;
    `storage` (YAML lines under `storage:`) replaces the filesystem driver on `root`."""
    if storage is None:
        storage = "  filesystem:\n    rootdirectory: %s\n" % root
    tls_lines = ""
    if tls:
        tls_lines = "  tls:\n    certificate: %s\n    key: %s\n" % tls
    return """version: 0.1
log:
  level: error
  accesslog:
    disabled: true
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
%shttp:
  addr: 127.0.0.1:%d
  headers:
    X-Content-Type-Options: [nosniff]
%shealth:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
""" % (storage, port, tls_lines)


class Server:
    """One running server; `available` is False with a reason in `note` if it did not come up."""

    def __init__(self, name, procs, logdir):
        self.name = name
        self.procs = procs
        self.logdir = logdir
        self.proc = None
        self.port = None
        self.available = False
        self.note = ""
        self.tls = None  # (certificate, key): the server answers https

    @property
    def host(self):
        return "127.0.0.1:%d" % self.port

    @property
    def url(self):
        return "%s://%s" % ("https" if self.tls else "http", self.host)

    @property
    def cafile(self):
        return self.tls[0] if self.tls else None

    @property
    def log_path(self):
        return os.path.join(self.logdir, "%s%s.log" % (self.name, "-tls" if self.tls else ""))

    def log_tail(self, lines=5):
        try:
            with open(self.log_path, errors="replace") as f:
                return " | ".join(x.strip() for x in f.read().splitlines()[-lines:])
        except OSError:
            return ""

    def _wait_ready(self, timeout=20.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.note = "exited with status %d: %s" % (self.proc.returncode, self.log_tail())
                return False
            if http_status(self.url + "/v2/", timeout=1.0, cafile=self.cafile) == 200:
                self.available = True
                return True
            time.sleep(0.1)
        self.note = "GET /v2/ did not answer 200 within %.0f s: %s" % (timeout, self.log_tail())
        return False

    def pids(self):
        if self.proc is None or self.proc.poll() is not None:
            return []
        return [self.proc.pid] + children(self.proc.pid)

    def vmhwm_mib(self):
        """Peak resident memory (VmHWM), summed over the server's processes."""
        values = [status_kib(pid, "VmHWM") for pid in self.pids()]
        values = [v for v in values if v is not None]
        return sum(values) / 1024.0 if values else None

    def cpu_seconds(self):
        """CPU time used so far, summed over the server's processes."""
        return total_cpu_seconds(self.pids())

    def stop(self):
        if self.proc is not None:
            self.procs.stop(self.proc)
            self.proc = None


class RegistryServer(Server):
    """regfs-server or docker-registry over `root`, both with the same config.yml; `storage`
    (YAML under `storage:`) puts the store elsewhere, `env` adjusts the environment (None
    removes a variable)."""

    def __init__(self, name, argv_prefix, root, procs, logdir, tls=None, storage=None, env=None):
        super().__init__(name, procs, logdir)
        self.argv_prefix = argv_prefix
        self.root = root
        self.tls = tls
        self.storage = storage
        self.env = env

    def start(self):
        self.port = free_port()
        if self.storage is None:
            os.makedirs(self.root, exist_ok=True)
        config = os.path.join(self.logdir, "%s-%d.yml" % (self.name, self.port))
        with open(config, "w") as f:
            f.write(registry_config(self.root, self.port, self.tls, self.storage))
        self.proc = self.procs.start(self.argv_prefix + [config], self.log_path, env=self.env)
        self._wait_ready()
        return self


class NginxServer(Server):
    """nginx with sendfile serving blob files of the store as static files at the registry's
    URLs: the fastest this machine can answer the same requests. `routes` maps an exact URL path
    to (file, content type); /v2/ answers {} itself."""

    def __init__(self, routes, procs, logdir, workdir, tls=None):
        super().__init__("nginx", procs, logdir)
        self.routes = routes
        self.dir = os.path.join(workdir, "nginx-tls" if tls else "nginx")
        self.tls = tls

    def start(self):
        self.port = free_port()
        os.makedirs(self.dir, exist_ok=True)
        locations = []
        for path, (file, ctype) in sorted(self.routes.items()):
            locations.append("    location = %s { default_type %s; alias %s; }" % (path, ctype, file))
        conf = """daemon off;
master_process on;
worker_processes %d;
pid %s/nginx.pid;
error_log %s/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  client_body_temp_path %s/body;
  proxy_temp_path %s/proxy;
  fastcgi_temp_path %s/fastcgi;
  uwsgi_temp_path %s/uwsgi;
  scgi_temp_path %s/scgi;
  types { }
  server {
    listen 127.0.0.1:%d%s;
    add_header Docker-Distribution-API-Version registry/2.0 always;
    location = /v2/ { default_type application/json; return 200 '{}'; }
%s
  }
}
""" % ((os.cpu_count() or 1), self.dir, self.logdir, *([self.dir] * 5), self.port,
       # nginx 1.22 leaves TLS 1.3 out of its default protocols: without this line it
       # would be measured on TLS 1.2 while the registries speak 1.3.
       (" ssl;\n    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_certificate %s;\n"
        "    ssl_certificate_key %s" % self.tls) if self.tls
       else "", "\n".join(locations))
        conf_path = os.path.join(self.dir, "nginx.conf")
        with open(conf_path, "w") as f:
            f.write(conf)
        self.proc = self.procs.start(["nginx", "-c", conf_path, "-p", self.dir], self.log_path)
        self._wait_ready()
        return self


class Dockerd(Server):
    """A private dockerd (vfs storage, no networking of its own) on a unix socket."""

    def __init__(self, procs, logdir, workdir):
        super().__init__("dockerd", procs, logdir)
        self.dir = os.path.join(workdir, "docker")
        self.sock = os.path.join(self.dir, "docker.sock")

    def start(self, timeout=60.0):
        os.makedirs(self.dir, exist_ok=True)
        argv = ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none",
                "--storage-driver=vfs", "--data-root", os.path.join(self.dir, "data"),
                "--exec-root", os.path.join(self.dir, "exec"), "--host", "unix://" + self.sock,
                "--pidfile", os.path.join(self.dir, "docker.pid")]
        self.proc = self.procs.start(argv, self.log_path)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.note = "dockerd exited: %s" % self.log_tail()
                return self
            if os.path.exists(self.sock):
                r = subprocess.run(self.cli("version", "--format", "{{.Server.Version}}"),
                                   capture_output=True, text=True)
                if r.returncode == 0:
                    self.available = True
                    self.note = "dockerd " + r.stdout.strip()
                    for child in children(self.proc.pid):  # its containerd
                        self.procs.adopt(child)
                    return self
            time.sleep(0.25)
        self.note = "dockerd did not answer within %.0f s: %s" % (timeout, self.log_tail())
        return self

    def cli(self, *args):
        return ["docker", "-H", "unix://" + self.sock] + list(args)

    def log_offset(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def retries_since(self, offset):
        """The lines dockerd logged since `offset` about an upload or download it retried."""
        try:
            with open(self.log_path, errors="replace") as f:
                f.seek(offset)
                return [line.strip() for line in f if "retrying" in line.lower()]
        except OSError:
            return []
