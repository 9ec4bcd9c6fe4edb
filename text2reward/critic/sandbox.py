"""OS isolation for worker processes that run untrusted reward programs.

The parent starts each worker in its own session (process group) with a cleared environment
(no API keys) and kills the whole group on timeout. Inside, the worker imports everything it
needs, then calls ``lock_down`` before it loads candidate code.

Layers in this version: cleared environment, own process group with a parent-side timeout,
and resource limits (CPU seconds, file size, core dumps, address space). Layers that are not
available are reported by ``layers()``, never skipped silently.
"""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

# Variables a worker may inherit; everything else (API keys included) is dropped.
PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "LITELLM_LOCAL_MODEL_COST_MAP",
               "CUDA_VISIBLE_DEVICES", "SDL_VIDEODRIVER", "MUJOCO_GL")
FILE_SIZE_LIMIT = 512 * 2**20
MEMORY_LIMIT = 8 * 2**30


def worker_environment(scratch: Path) -> dict[str, str]:
    """The environment of a worker: a short allow-list, HOME and TMPDIR in its scratch dir."""
    env = {k: os.environ[k] for k in PASSTHROUGH if k in os.environ}
    tmp = scratch / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(scratch), TMPDIR=str(tmp), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    return env


def layers() -> dict[str, bool]:
    """Which isolation layers this version applies on this machine."""
    return {
        "clean_environment": True,
        "process_group_timeout": True,
        "rlimits": sys.platform.startswith("linux") or sys.platform == "darwin",
        "seccomp": False,
        "landlock": False,
    }


def missing_layers() -> list[str]:
    """Names of isolation layers not applied here, for a one-time warning."""
    return [name for name, on in layers().items() if not on]


def lock_down(cpu_seconds: int) -> None:
    """Apply resource limits to this process. Call after imports, before loading candidate code."""
    limits = {
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_FSIZE: FILE_SIZE_LIMIT,
        resource.RLIMIT_CPU: max(int(cpu_seconds), 1),
    }
    if sys.platform.startswith("linux"):
        limits[resource.RLIMIT_AS] = MEMORY_LIMIT
    for which, value in limits.items():
        _, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, hard))
