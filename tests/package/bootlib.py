"""Debian 12 machines for the package tests: the cached debootstrap root,
a network namespace with a veth pair into it, and a boot of a copy of the
root under systemd-nspawn with systemd as PID 1.

The root is made once by debootstrap (2-15 min from the Debian mirror,
depending on the machine's load) and kept outside the tree in
/var/cache/asg-agent-tests/bookworm-cloud; each test copies it, so runs
never change it.  Its stamp records the include list: changing the list
rebuilds it.  deb-boot.py and cloud-boot.py share it.  (Trees from before
cloud-init was in the list use .../bookworm; a separate directory keeps a
run of either from rebuilding the other's.)
"""

import fcntl
import ipaddress
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

CACHE = os.environ.get("ASG_TEST_ROOT_CACHE", "/var/cache/asg-agent-tests/bookworm-cloud")
MIRROR = os.environ.get("ASG_TEST_MIRROR", "http://deb.debian.org/debian")
# What the package needs at run time, curl for the checks, and cloud-init
# for the first boot of an instance from its user data (cloud-boot.py).
# debootstrap resolves cloud-init's dependencies but not virtual ones:
# python3-cryptography needs python3-cffi-backend-api-*, which only
# python3-cffi-backend provides, so it is listed.  Nothing is installed
# later from the network.
INCLUDE = ("systemd,systemd-sysv,dbus,libmicrohttpd12,libcurl4,libjansson4,libexpat1,"
           "libssl3,libnettle8,curl,cloud-init,python3-cffi-backend")
# Held exclusively while the cached root is built, shared while it is copied
# or is the lower layer of an overlay (OverlayRoot), so a test never uses a
# root another test is rebuilding.
ROOT_LOCK = CACHE + ".lock"
LOCK_WAIT = 900


class BootError(Exception):
    pass


def lock(path, wait, how=fcntl.LOCK_EX):
    """A flock (exclusive unless how is LOCK_SH) on path, waited for at most
    wait seconds; returns the open file (closing it releases the lock) and
    the seconds waited."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    f = open(path, "a")
    t0 = time.monotonic()
    while True:
        try:
            fcntl.flock(f, how | fcntl.LOCK_NB)
            return f, time.monotonic() - t0
        except BlockingIOError:
            if time.monotonic() - t0 > wait:
                f.close()
                raise BootError("another package test has held %s for %d s" % (path, wait))
            time.sleep(1)


def _root_ok():
    try:
        with open(os.path.join(CACHE, ".asg-agent-tests-stamp")) as f:
            return f.read().strip() == "bookworm minbase " + INCLUDE
    except OSError:
        return False


def _ensure_root():
    if _root_ok():
        return
    tmp = CACHE + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    print("debootstrap: building the cached Debian 12 root in %s (once)" % CACHE, flush=True)
    t0 = time.monotonic()
    r = subprocess.run(["debootstrap", "--variant=minbase", "--include=" + INCLUDE, "bookworm",
                        tmp, MIRROR], capture_output=True, text=True, timeout=1200)
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BootError("debootstrap of Debian 12 from %s failed (exit %d); this test needs the "
                        "Debian mirror once to build its cached root (set ASG_TEST_MIRROR for "
                        "another mirror):\n%s" % (MIRROR, r.returncode,
                                                  (r.stderr or r.stdout)[-2000:]))
    with open(os.path.join(tmp, ".asg-agent-tests-stamp"), "w") as f:
        f.write("bookworm minbase " + INCLUDE + "\n")
    shutil.rmtree(CACHE, ignore_errors=True)
    os.rename(tmp, CACHE)
    print("debootstrap: done in %.0f s" % (time.monotonic() - t0), flush=True)


def hold_root():
    """The cached root, built first if needed, held (a shared lock: nobody
    rebuilds it) until the returned file is closed."""
    f, _ = lock(ROOT_LOCK, LOCK_WAIT, fcntl.LOCK_SH)
    if _root_ok():
        return f
    f.close()
    f, _ = lock(ROOT_LOCK, LOCK_WAIT)
    try:
        _ensure_root()
    except BaseException:
        f.close()
        raise
    fcntl.flock(f, fcntl.LOCK_SH)
    return f


def copy_root(dest):
    """A private copy of the cached root (built first if needed) at dest;
    returns the seconds the copy took."""
    f = hold_root()
    try:
        t0 = time.monotonic()
        subprocess.run(["cp", "-a", "--reflink=auto", CACHE, dest], check=True)
        return time.monotonic() - t0
    finally:
        f.close()


class OverlayRoot:
    """The cached root as the read-only lower layer of an overlay mounted at
    DIR/root, its changes in DIR/upper: a private root in no time (a copy
    of the 370 MB tree took 26 s on a loaded 2-core machine).  The cached
    root stays locked (shared) until close()."""

    def __init__(self, dir):
        f = hold_root()
        self.lock = f
        self.path = os.path.join(dir, "root")
        upper, work = os.path.join(dir, "upper"), os.path.join(dir, "work")
        for d in (self.path, upper, work):
            os.makedirs(d)
        r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                            "lowerdir=%s,upperdir=%s,workdir=%s" % (CACHE, upper, work),
                            self.path], capture_output=True, text=True)
        if r.returncode != 0:
            f.close()
            raise BootError("mounting an overlay on %s: %s" % (CACHE, r.stderr.strip()))
        self.mounted = True

    def close(self):
        if self.mounted:
            subprocess.run(["umount", self.path], capture_output=True)
            self.mounted = False
        self.lock.close()


def quiet_console(root):
    """No console login prompt or first-boot questions in a test boot."""
    units = os.path.join(root, "etc", "systemd", "system")
    for name in ("console-getty.service", "systemd-firstboot.service"):
        link = os.path.join(units, name)
        if not os.path.lexists(link):
            os.symlink("/dev/null", link)


def _ip(*args):
    r = subprocess.run(["ip"] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise BootError("ip %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def _used_prefixes():
    """The /24s of 169.254.0.0/16 that any address on this host is in."""
    used = set()
    for line in _ip("-o", "-4", "addr", "show").splitlines():
        for word in line.split():
            if word.startswith("169.254."):
                used.add(word.split(".")[2])
    return used


def _alive(pid):
    return os.path.exists("/proc/%d" % pid)


def clean_stale():
    """What runs that were killed left behind (named after their PID):
    overlays on the cached root and network namespaces (deleting one
    deletes its veth pair, and the host's address with it)."""
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f]
    for path in mounts:
        m = re.search(r"/asg-cloud-[a-z-]+-(\d+)-[^/]*/i\d+/root$", path)
        if m and not _alive(int(m.group(1))):
            subprocess.run(["umount", "-l", path], capture_output=True)
    for name in os.listdir("/var/tmp"):
        m = re.match(r"asg-cloud-[a-z-]+-(\d+)-", name)
        if m and not _alive(int(m.group(1))):
            shutil.rmtree(os.path.join("/var/tmp", name), ignore_errors=True)
    for line in _ip("netns", "list").splitlines():
        m = re.match(r"(asg-cb\d+-(\d+))\b", line)
        if m and not _alive(int(m.group(2))):
            subprocess.run(["ip", "netns", "del", m.group(1)], capture_output=True)


class Link:
    """A network namespace the test owns and a veth pair into it: eth0 in
    the namespace, HOST_IF on this host, each with an address of one
    link-local /30 (169.254.A.B, never 169.254.169.0/24).  No default route
    in the namespace: the container reaches only this host, through its
    veth peer, and only the addresses it is given routes to."""

    def __init__(self, tag, avoid=()):
        self.netns = "asg-%s-%d" % (tag, os.getpid())
        self.host_if = ("asg%s%d" % (tag, os.getpid()))[-15:]
        used = _used_prefixes() | set(avoid)
        choices = [str(a) for a in range(100, 200) if a != 169 and str(a) not in used]
        if not choices:
            raise BootError("no free 169.254.A.0/24 for a test link")
        a = random.choice(choices)
        b = 4 * random.randrange(64)
        self.prefix = a
        self.host_ip = "169.254.%s.%d" % (a, b + 1)
        self.guest_ip = "169.254.%s.%d" % (a, b + 2)
        self.made = False
        _ip("netns", "add", self.netns)
        self.made = True
        try:
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", "eth0",
                "netns", self.netns)
            _ip("addr", "add", self.host_ip + "/30", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            _ip("-n", self.netns, "addr", "add", self.guest_ip + "/30", "dev", "eth0")
            _ip("-n", self.netns, "link", "set", "eth0", "up")
            _ip("-n", self.netns, "link", "set", "lo", "up")
        except BootError:
            self.close()
            raise

    @property
    def path(self):
        return "/run/netns/" + self.netns

    def route_to(self, address):
        """The container reaches address (another of this host's link-local
        addresses) through its own veth peer."""
        ipaddress.ip_address(address)
        _ip("-n", self.netns, "route", "add", address + "/32", "via", self.host_ip)

    def close(self):
        if not self.made:
            return
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        self.made = False


class Machine:
    """One boot of root under systemd-nspawn, in link's namespace.  The
    console goes to console_path.  exec() runs a command inside (nsenter
    into the container's namespaces and root); poweroff() asks systemd
    inside for an orderly power-off, as SIGTERM to nspawn does."""

    def __init__(self, root, link, console_path, extra_args=()):
        self.console_path = console_path
        self.console = open(console_path, "ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "--quiet", "--keep-unit", "--register=no", "-D", root,
             "--network-namespace-path=" + link.path,
             # nspawn's own seccomp filter refuses bpf(2); the systemd
             # inside needs it for IPAddressDeny=.
             "--system-call-filter=bpf", "-b"] + list(extra_args)
            + os.environ.get("ASG_TEST_NSPAWN_ARGS", "").split(),
            stdin=subprocess.DEVNULL, stdout=self.console, stderr=subprocess.STDOUT)
        self._init = None

    def running(self):
        return self.proc.poll() is None

    def init_pid(self):
        """The container's PID 1 as this host sees it: nspawn's child that
        runs systemd."""
        if self._init:
            return self._init
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open("/proc/%s/comm" % pid) as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and comm == "systemd":
                self._init = int(pid)
                return self._init
        return None

    def exec(self, cmd, timeout=60, check=False, input=None):
        """Runs cmd (a list, or a string for /bin/sh -c) inside; returns the
        CompletedProcess (text)."""
        pid = self.init_pid()
        if pid is None:
            raise BootError("the container's systemd is not running")
        if isinstance(cmd, str):
            cmd = ["/bin/sh", "-c", cmd]
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "LANG": "C.UTF-8", "HOME": "/root"}
        r = subprocess.run(["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "-C",
                            "-r", "-w"] + cmd, capture_output=True, text=True,
                           timeout=timeout, env=env, input=input)
        if check and r.returncode != 0:
            raise BootError("%s inside: exit %d: %s" % (" ".join(cmd), r.returncode,
                                                        (r.stderr or r.stdout)[-1000:]))
        return r

    def poweroff(self, timeout=120):
        """Orderly power-off; returns the seconds it took."""
        t0 = time.monotonic()
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise BootError("the container did not power off within %d s" % timeout)
        self.console.close()
        return time.monotonic() - t0

    def kill(self):
        if self.running():
            self.proc.kill()
            self.proc.wait()
        if not self.console.closed:
            self.console.close()

    def console_tail(self, lines=40):
        try:
            with open(self.console_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


def skip(why):
    """Ends the test as skipped (automake's 77), saying why."""
    print("SKIP: " + why)
    sys.exit(77)


def sanitized_build(top_builddir=None):
    """Whether the build under test is a sanitizer build (its daemons
    cannot run inside the booted root, which lacks the runtime)."""
    top_builddir = top_builddir or os.environ.get("top_builddir", ".")
    try:
        with open(os.path.join(top_builddir, "config.status"), errors="replace") as f:
            return "-fsanitize" in f.read()
    except OSError:
        return False
