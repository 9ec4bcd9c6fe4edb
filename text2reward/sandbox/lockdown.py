"""OS isolation for worker processes that run untrusted reward programs.

The parent starts each worker in its own session (process group) with a cleared environment
(no API keys), optionally inside bubblewrap, and kills the whole group on timeout. Inside, the
worker imports everything it needs, then calls ``lock_down`` before it loads candidate code.

Layers, each detected on this machine (``layer_report``) and reported, never assumed:

- clean_environment: the worker inherits a short allow-list of variables, no API keys.
- process_group_timeout: own session; the parent kills the whole group at the time limit.
- rlimits: CPU seconds, address space, file size, no core dumps (soft and hard lowered).
- landlock: the filesystem is read-only except the worker's scratch directory; no TCP
  bind/connect (ABI >= 4); no signals or abstract unix sockets outside the worker (ABI >= 6);
  no ptrace-class access (``/proc/<parent>/environ``) to processes outside it.
- seccomp: fork, exec, sockets, ptrace, signals to other processes, mount/namespaces, keyrings,
  bpf, perf, io_uring and metadata changes (chmod, chown, utimes, xattrs, which Landlock does not
  cover) fail with EPERM (threads still work), so Python raises an OSError.
- capabilities: a worker started as root drops every capability.
- bubblewrap: where ``bwrap`` is installed and works, the worker also runs in its own mount,
  network, IPC and PID namespaces with a read-only root and only its scratch dir writable.

A layer that is missing is reported (``missing_layers``, ``text2reward check --explain``, the run
summary, the worker's result) and the others still apply.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import glob
import os
import resource
import shutil
import struct
import subprocess
import sys
from pathlib import Path

# Variables a worker may inherit; everything else (API keys included) is dropped.
PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV",
               "LITELLM_LOCAL_MODEL_COST_MAP", "CUDA_VISIBLE_DEVICES", "SDL_VIDEODRIVER",
               "MUJOCO_GL")
FILE_SIZE_LIMIT = 512 * 2**20
MEMORY_LIMIT = 8 * 2**30
LINUX = sys.platform.startswith("linux")

# Syscalls that fail with EPERM in a locked-down worker (names unknown on this arch are skipped).
SECCOMP_DENIED = tuple(
    """
    fork vfork execve execveat
    socket connect bind listen accept accept4
    ptrace process_vm_readv process_vm_writev kcmp pidfd_open pidfd_getfd pidfd_send_signal tkill
    mount umount umount2 unshare setns pivot_root chroot fsopen fsmount fsconfig fspick move_mount
    open_tree mount_setattr open_by_handle_at name_to_handle_at
    keyctl add_key request_key bpf perf_event_open userfaultfd fanotify_init
    io_uring_setup io_uring_enter io_uring_register
    init_module finit_module delete_module kexec_load kexec_file_load reboot swapon swapoff
    quotactl acct settimeofday clock_settime clock_adjtime adjtimex sethostname setdomainname
    iopl ioperm syslog vhangup process_madvise
    chmod fchmod fchmodat fchmodat2 chown fchown lchown fchownat utime utimes utimensat futimesat
    setxattr lsetxattr fsetxattr removexattr lremovexattr fremovexattr
    """.split()
)
CLONE_THREAD = 0x00010000

# Landlock (include/uapi/linux/landlock.h).
_SYS_LANDLOCK = {"create_ruleset": 444, "add_rule": 445, "restrict_self": 446}
_LL_EXECUTE, _LL_WRITE_FILE, _LL_READ_FILE, _LL_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_LL_TRUNCATE, _LL_IOCTL_DEV = 1 << 14, 1 << 15
_LL_FILE_RIGHTS = _LL_EXECUTE | _LL_WRITE_FILE | _LL_READ_FILE | _LL_TRUNCATE | _LL_IOCTL_DEV
_PR_SET_NO_NEW_PRIVS = 38
# Devices a worker may write (besides its scratch dir): the null sink and GPUs for --device cuda.
DEVICE_GLOBS = ("/dev/null", "/dev/nvidia*", "/dev/dri/*")


def worker_environment(scratch: Path) -> dict[str, str]:
    """The environment of a worker: a short allow-list, HOME and TMPDIR in its scratch dir."""
    env = {k: os.environ[k] for k in PASSTHROUGH if k in os.environ}
    tmp = scratch / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(scratch), TMPDIR=str(tmp), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    return env


# -- detection ----------------------------------------------------------------------------------
def _libc():
    return ctypes.CDLL(None, use_errno=True)


@functools.lru_cache(maxsize=1)
def landlock_abi() -> int:
    """The Landlock ABI version of this kernel; 0 where Landlock is unavailable."""
    if not LINUX:
        return 0
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(ctypes.c_long(_SYS_LANDLOCK["create_ruleset"]), None,
                           ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(int(version), 0)


def _seccomp_module():
    """The libseccomp bindings: pyseccomp, or the official ``seccomp`` module; None if neither."""
    for name in ("pyseccomp", "seccomp"):
        try:
            return __import__(name)
        except Exception:  # noqa: BLE001 (missing module or missing libseccomp.so)
            continue
    return None


@functools.lru_cache(maxsize=1)
def _seccomp_problem() -> str | None:
    if not LINUX:
        return "seccomp is Linux-only"
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        status = ""
    if "Seccomp:" not in status:
        return "this kernel has no seccomp support"
    sc = _seccomp_module()
    if sc is None:
        return "no libseccomp bindings: pip install pyseccomp (needs libseccomp2)"
    try:
        sc.SyscallFilter(sc.ALLOW)
    except Exception as exc:  # noqa: BLE001
        return f"libseccomp does not initialise: {exc}"
    return None


@functools.lru_cache(maxsize=1)
def bwrap_path() -> str | None:
    """Path of a working bubblewrap (probed once), or None."""
    path = shutil.which("bwrap")
    if not path or not LINUX:
        return None
    probe = [path, *_bwrap_args(Path("/tmp")), "--", "/bin/sh", "-c", "exit 0"]
    try:
        ok = subprocess.run(probe, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return path if ok else None


@functools.lru_cache(maxsize=1)
def layer_report() -> dict[str, tuple[bool, str]]:
    """Each isolation layer: (available on this machine, what it does or why it is missing)."""
    abi = landlock_abi()
    seccomp_problem = _seccomp_problem()
    bwrap = bwrap_path()
    root = LINUX and os.geteuid() == 0
    return {
        "clean_environment": (True, "workers inherit no API keys, only "
                              + ", ".join(PASSTHROUGH[:3]) + ", ..."),
        "process_group_timeout": (True, "own session; the parent kills the whole group on timeout"),
        "rlimits": (LINUX or sys.platform == "darwin",
                    "CPU seconds, address space, file size, no core dumps"),
        "landlock": (abi > 0, f"ABI {abi}: filesystem read-only except the scratch dir"
                     + ("; no TCP bind/connect" if abi >= 4 else "")
                     + ("; no signals outside the worker" if abi >= 6 else "")
                     if abi > 0 else "this kernel has no Landlock (needs Linux >= 5.13 with "
                     "landlock in the lsm= list): the filesystem stays writable"),
        "seccomp": (seccomp_problem is None,
                    "fork, exec, sockets, ptrace, signals to other processes, mount and "
                    "namespaces fail with EPERM" if seccomp_problem is None else seccomp_problem),
        "capabilities": (True, "the worker runs as root and drops every capability" if root
                         else "the worker runs unprivileged"),
        "bubblewrap": (bwrap is not None,
                       f"{bwrap}: own mount, network, IPC and PID namespaces, read-only root"
                       if bwrap else "bwrap is not installed or does not work here "
                       "(apt-get install bubblewrap); the other layers still apply"),
    }


def layers() -> dict[str, bool]:
    """Which isolation layers are available (and so applied to workers) on this machine."""
    return {name: on for name, (on, _) in layer_report().items()}


def missing_layers() -> list[str]:
    """Names of isolation layers not applied here, for a one-time warning."""
    return [name for name, on in layers().items() if not on]


# -- the worker command ------------------------------------------------------------------------
def _bwrap_args(scratch: Path) -> list[str]:
    args = ["--die-with-parent", "--unshare-net", "--unshare-ipc", "--unshare-pid",
            "--unshare-uts", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    # No tmpfs over /tmp: the interpreter, the package or the run folder may live there; the
    # whole tree is read-only anyway and TMPDIR points into the writable scratch dir.
    for pattern in DEVICE_GLOBS[1:]:
        for dev in sorted(glob.glob(pattern)):
            args += ["--dev-bind", dev, dev]
    return args + ["--bind", str(scratch), str(scratch), "--chdir", str(scratch)]


def wrap_command(command: list[str], scratch: Path) -> list[str]:
    """``command`` run inside bubblewrap where it works here, else unchanged."""
    path = bwrap_path()
    if path is None:
        return command
    return [path, *_bwrap_args(Path(scratch).resolve()), "--", *command]


# -- lock-down, inside the worker --------------------------------------------------------------
def _set_rlimits(cpu_seconds: int, gpu: bool = False) -> None:
    """Core dumps off, file size, CPU time and memory limits. Memory is the address space,
    or with ``gpu`` the data segment: a CUDA context reserves far more address space than
    8 GiB (never backed), which RLIMIT_AS would refuse."""
    cpu = max(int(cpu_seconds), 1)
    limits = {
        resource.RLIMIT_CORE: (0, 0),
        resource.RLIMIT_FSIZE: (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT),
        resource.RLIMIT_CPU: (cpu, cpu + 5),
    }
    if LINUX:
        memory = resource.RLIMIT_DATA if gpu else resource.RLIMIT_AS
        limits[memory] = (MEMORY_LIMIT, MEMORY_LIMIT)
    for which, (soft, hard) in limits.items():
        _, old_hard = resource.getrlimit(which)
        if old_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, old_hard), min(hard, old_hard)
        resource.setrlimit(which, (soft, hard))


def _landlock(scratch: Path) -> None:
    abi = landlock_abi()
    if abi < 1:
        raise OSError(errno.ENOSYS, "Landlock is unavailable")
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    fs = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if abi >= 2:
        fs |= 1 << 13  # refer
    if abi >= 3:
        fs |= _LL_TRUNCATE
    if abi >= 5:
        fs |= _LL_IOCTL_DEV
    net = 0b11 if abi >= 4 else 0  # bind_tcp, connect_tcp: handled, never granted
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets, signals
    attr = ctypes.create_string_buffer(struct.pack("=QQQ", fs, net, scoped))
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    fd = libc.syscall(ctypes.c_long(_SYS_LANDLOCK["create_ruleset"]), attr, ctypes.c_size_t(size),
                      ctypes.c_uint32(0))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    fd = int(fd)
    try:
        rules = [("/", _LL_READ_FILE | _LL_READ_DIR), (str(scratch), fs & ~_LL_EXECUTE)]
        for pattern in DEVICE_GLOBS:
            rules += [(dev, _LL_READ_FILE | _LL_WRITE_FILE | (fs & (_LL_TRUNCATE | _LL_IOCTL_DEV)))
                      for dev in glob.glob(pattern)]
        for path, access in rules:
            try:
                target = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not os.path.isdir(path):
                    access &= _LL_FILE_RIGHTS
                rule = ctypes.create_string_buffer(struct.pack("=Qi", access & fs, target))
                if libc.syscall(ctypes.c_long(_SYS_LANDLOCK["add_rule"]), ctypes.c_int(fd),
                                ctypes.c_int(1), rule, ctypes.c_uint32(0)) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule({path}) failed")
            finally:
                os.close(target)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(ctypes.c_long(_SYS_LANDLOCK["restrict_self"]), ctypes.c_int(fd),
                        ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(fd)


def _drop_capabilities() -> None:
    """Drop every capability (effective, permitted, inheritable) of a root worker."""
    libc = _libc()
    header = ctypes.create_string_buffer(struct.pack("=Ii", 0x20080522, 0))  # version 3, self
    data = ctypes.create_string_buffer(24)  # two zeroed __user_cap_data_struct
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def _seccomp_filter():
    """Build the filter (not yet loaded). Done first: the bindings locate libseccomp by running
    ldconfig, which Landlock would no longer allow."""
    sc = _seccomp_module()
    if sc is None:
        raise OSError(errno.ENOSYS, _seccomp_problem() or "no libseccomp bindings")
    pid = os.getpid()
    eperm = sc.ERRNO(errno.EPERM)
    f = sc.SyscallFilter(sc.ALLOW)
    for name in SECCOMP_DENIED:
        try:
            f.add_rule(eperm, name)
        except Exception:  # noqa: BLE001 (a syscall this arch does not have)
            continue
    # Processes: clone only as a thread; clone3 hides its flags, so glibc must fall back to clone.
    f.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    # Signals only to this process (threads of it included).
    for name in ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        f.add_rule(eperm, name, sc.Arg(0, sc.NE, pid))
    # Resource limits of this process only (glibc's setrlimit is prlimit64(0, ...)).
    f.add_rule(eperm, "prlimit64", sc.Arg(0, sc.NE, 0))
    return f


def lock_down(cpu_seconds: int, scratch: str | Path | None = None,
              gpu: bool = False) -> dict[str, bool]:
    """Lock this process down. Call after every import, before loading candidate code.

    ``scratch`` is the only directory left writable (default: the parent of TMPDIR, which
    ``worker_environment`` puts in the scratch dir). ``gpu``: a CUDA context was created
    before (see ``_set_rlimits``). Returns which layers were applied here; a layer that could
    not be applied is reported on stderr, the others still apply.
    """
    if scratch is None:
        scratch = Path(os.environ.get("TMPDIR") or os.getcwd()).parent
    scratch = Path(scratch).resolve()
    applied = {"rlimits": False, "landlock": False, "capabilities": False, "seccomp": False}
    problems = []
    seccomp_filter = None
    if LINUX:
        try:
            seccomp_filter = _seccomp_filter()
        except Exception as exc:  # noqa: BLE001
            problems.append(f"seccomp: {exc}")
    steps = [("rlimits", lambda: _set_rlimits(cpu_seconds, gpu))]
    if LINUX:
        steps.append(("landlock", lambda: _landlock(scratch)))
        if os.geteuid() == 0:
            steps.append(("capabilities", _drop_capabilities))
        else:
            applied["capabilities"] = True  # nothing to drop
        if seccomp_filter is not None:
            steps.append(("seccomp", seccomp_filter.load))
    for name, step in steps:
        try:
            step()
            applied[name] = True
        except Exception as exc:  # noqa: BLE001 (a missing layer is a warning, not a stop)
            problems.append(f"{name}: {exc}")
    if problems:
        sys.stderr.write("warning: sandbox layers not applied: " + "; ".join(problems) + "\n")
    return applied
