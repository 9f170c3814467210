"""Processes and mounts the benchmark starts, each stopped by its PID at the end.

Every PID is also written to <workdir>/pids (and every mount point to <workdir>/mounts) so
that run.sh can stop what is left if this program itself dies.
"""

import os
import signal
import subprocess
import time


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def children(pid):
    """Direct children of `pid` (all threads)."""
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def status_kib(pid, key):
    """A value in kB from /proc/PID/status (VmHWM, VmRSS), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _stat_cpu_seconds(stat_path):
    try:
        with open(stat_path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime are fields 14 and 15 of stat(5); after the command, 12 and 13 here.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time of `pid` (all its threads) so far, or None."""
    return _stat_cpu_seconds("/proc/%d/stat" % pid)


def thread_cpu_seconds(pid, name):
    """CPU time so far of the threads of `pid` named `name` (pthread_setname_np), summed."""
    total = 0.0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return total
    for tid in tids:
        task = "/proc/%d/task/%s/" % (pid, tid)
        try:
            with open(task + "comm") as f:
                if f.read().strip() != name:
                    continue
        except OSError:
            continue
        total += _stat_cpu_seconds(task + "stat") or 0.0
    return total


def total_cpu_seconds(pids):
    """CPU time of `pids` so far, summed (a process that is gone counts nothing)."""
    return sum(v for v in (cpu_seconds(pid) for pid in pids) if v is not None)


class Procs:
    def __init__(self, workdir):
        self.pid_file = os.path.join(workdir, "pids")
        self.mount_file = os.path.join(workdir, "mounts")
        self.live = {}  # pid -> (Popen or None, comm)
        self.mounts = []
        self._save()

    def _save(self):
        with open(self.pid_file, "w") as f:
            for pid, (_, comm) in self.live.items():
                f.write("%d %s\n" % (pid, comm))
        with open(self.mount_file, "w") as f:
            for m in self.mounts:
                f.write(m + "\n")

    def start(self, argv, log_path, env=None, cwd=None):
        """Starts argv in its own session (a terminal's Ctrl-C reaches only us), output to log.
        `env` adds variables to ours; a value of None removes one."""
        full_env = dict(os.environ)
        for key, value in (env or {}).items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        log = open(log_path, "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             env=full_env, cwd=cwd, start_new_session=True)
        log.close()
        time.sleep(0.02)
        self.live[p.pid] = (p, _comm(p.pid) or os.path.basename(argv[0])[:15])
        self._save()
        return p

    def adopt(self, pid):
        """Tracks a process we did not start directly (a daemon's helper child)."""
        comm = _comm(pid)
        if comm and pid not in self.live:
            self.live[pid] = (None, comm)
            self._save()

    def stop(self, p, timeout=20.0):
        """SIGTERM, then SIGKILL after `timeout`; returns the exit status (None if not ours)."""
        pid = p.pid if hasattr(p, "pid") else p
        entry = self.live.pop(pid, None)
        self._save()
        if entry is None:
            return None
        popen, comm = entry
        if popen is not None:
            if popen.poll() is None:
                popen.send_signal(signal.SIGTERM)
                try:
                    popen.wait(timeout)
                except subprocess.TimeoutExpired:
                    popen.kill()
                    popen.wait()
            return popen.returncode
        # Not our child: signal only while the PID still names the same program.
        if _comm(pid) == comm:
            os.kill(pid, signal.SIGTERM)
            deadline = time.time() + timeout
            while time.time() < deadline and _comm(pid) == comm:
                time.sleep(0.1)
            if _comm(pid) == comm:
                os.kill(pid, signal.SIGKILL)
        return None

    def add_mount(self, path):
        self.mounts.append(path)
        self._save()

    def unmount(self, path):
        subprocess.run(["fusermount3", "-u", path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        if os.path.ismount(path):
            subprocess.run(["fusermount3", "-uz", path], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if path in self.mounts:
            self.mounts.remove(path)
            self._save()

    def stop_all(self):
        for m in list(self.mounts):
            self.unmount(m)
        # Our children first (newest first), then helpers their daemons started and left.
        pids = list(self.live)
        ours = [pid for pid in pids if self.live[pid][0] is not None]
        helpers = [pid for pid in pids if self.live[pid][0] is None]
        for pid in list(reversed(ours)) + helpers:
            try:
                self.stop(pid)
            except Exception:  # keep stopping the others
                pass
