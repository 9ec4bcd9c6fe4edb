"""Run a job in a sandboxed worker process and collect its result, whatever happens to it."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from text2reward.sandbox.job import STOP_FILE, Job
from text2reward.sandbox.lockdown import worker_environment, wrap_command

WORKER = "text2reward.sandbox.worker"  # the worker's module, run as a fresh process
OnEvent = Callable[[dict[str, Any]], None]
_live: set[subprocess.Popen] = set()  # running workers, so an interrupted run can stop them all
_live_lock = threading.Lock()


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def kill_all() -> None:
    """Kill every running worker's process group (on Ctrl-C or SIGTERM of the run)."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        _kill_group(proc)


def _inside(out_dir: Path, path: str | None, name: str) -> str | None:
    """The absolute path of a file the worker reads, copied into its scratch dir if outside
    (the worker may see nothing else of the filesystem)."""
    if path is None:
        return None
    source = Path(path).resolve()
    if source.parent == out_dir:
        return str(source)
    target = out_dir / f"input-{name}{''.join(source.suffixes)}"
    shutil.copyfile(source, target)
    return str(target)


def run_job(job: Job, on_event: OnEvent = lambda e: None) -> dict[str, Any]:
    """Run ``job`` in a fresh locked-down worker and return its result.

    A worker that crashes, hangs past ``job.timeout_s`` or dies without a result gives a
    ``failed`` result with the reason; it never hangs the caller.
    """
    out_dir = Path(job.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    job = dataclasses.replace(
        job, out_dir=str(out_dir), program_path=_inside(out_dir, job.program_path, "program"),
        success_path=_inside(out_dir, job.success_path, "success"),
        pool_path=_inside(out_dir, job.pool_path, "pool"),
        init_policy=_inside(out_dir, job.init_policy, "init"),
    )
    (out_dir / "result.json").unlink(missing_ok=True)
    (out_dir / STOP_FILE).unlink(missing_ok=True)
    for stale in out_dir.glob("decision-*"):  # an earlier attempt's decisions (resume)
        stale.unlink()
    job_path = out_dir / "job.json"
    job_path.write_text(job.to_json())
    start = time.perf_counter()
    with open(out_dir / "worker.log", "wb") as log:
        proc = subprocess.Popen(
            wrap_command([sys.executable, "-m", WORKER, str(job_path)], out_dir),
            cwd=out_dir, env=worker_environment(out_dir), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=log, start_new_session=True,
        )
        with _live_lock:
            _live.add(proc)
        timer = threading.Timer(job.timeout_s, _kill_group, args=(proc,))
        timer.start()
        try:
            for line in proc.stdout:
                try:
                    on_event(json.loads(line))
                except (ValueError, TypeError):
                    continue  # the protocol is JSON lines; anything else is noise
            proc.wait()
        finally:
            timer.cancel()
            _kill_group(proc)  # nothing the worker started may outlive it
            with _live_lock:
                _live.discard(proc)
    return _collect(job, out_dir, proc.returncode, time.perf_counter() - start)


def _collect(job: Job, out_dir: Path, returncode: int, elapsed: float) -> dict[str, Any]:
    result_path = out_dir / "result.json"
    if result_path.exists():
        return json.loads(result_path.read_text())
    if elapsed >= job.timeout_s:
        reason = f"the worker exceeded its {job.timeout_s:.0f} s time limit and was killed"
    elif returncode is not None and returncode < 0:
        reason = f"the worker was killed by signal {signal.Signals(-returncode).name}"
    else:
        log = (out_dir / "worker.log").read_text(errors="replace").strip().splitlines()
        reason = f"the worker exited with code {returncode}: {(log or ['no output'])[-1]}"
    return {"status": "failed", "reason": reason, "wall_time_s": elapsed}
