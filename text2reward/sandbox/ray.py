"""Run jobs as Ray tasks (``--executor ray``), each launching the same sandboxed worker.

The Ray task itself never loads candidate code: it holds the cluster's credentials and network
access, so it only calls :func:`text2reward.sandbox.local.run_job`, which starts the
locked-down worker subprocess exactly as the local executor does.

Files travel as bytes, so the cluster may have any number of nodes: the driver sends the job's
inputs (program, success file, stored episodes) with the task; the task runs the worker in a
scratch dir on its node and returns the worker's result with its files (result.json,
policy.zip, episodes.npz, worker.log, TensorBoard events); the driver writes them into the
candidate's folder. Progress events go through a small relay actor, polled by the driver every
half second, so the live view shows steps/s as with local workers; a stop request (successive
halving touches the candidate's ``stop`` file on the driver) goes back the same way.

Connects to ``RAY_ADDRESS`` when set, else starts a local cluster. Every node must have
text2reward installed (same version) and its sandbox layers available; each task asks for 1 CPU.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from text2reward.sandbox.job import STOP_FILE, Job

OnEvent = Callable[[dict[str, Any]], None]
MISSING = "--executor ray needs Ray: pip install 'text2reward[ray]'"
INPUT_FIELDS = ("program_path", "success_path", "pool_path", "init_policy")
MAX_FILE_BYTES = 256 * 2**20  # a file the worker wrote larger than this is not sent back
QUEUE_ALLOWANCE_S = 600.0  # time a task may wait for a free CPU before the driver gives up
POLL_S = 0.5

_connect_lock = threading.Lock()


def ray_installed() -> bool:
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        return False


def connect(address: str | None = None) -> str:
    """Join ``address`` (default: RAY_ADDRESS) or start a local cluster; return the address used."""
    import ray

    address = address or os.environ.get("RAY_ADDRESS") or "local"
    with _connect_lock:
        if not ray.is_initialized():
            options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
            if address == "local":  # a fresh cluster on this machine; never a stale one
                options["include_dashboard"] = False
            _check_reachable(address)  # ray.init retries a dead address for minutes
            try:
                ray.init(address=address, **options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                from text2reward.errors import UsageError

                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise UsageError(f"could not start or join the Ray cluster at {address}: "
                                 f"{first} (unset RAY_ADDRESS to start a local one)") from None
    return address


def _check_reachable(address: str) -> None:
    """A one-line UsageError at once when ``host:port`` (or ray://host:port) refuses to connect."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "local", "auto": nothing to dial
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        from text2reward.errors import UsageError

        raise UsageError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); start "
                         "one (ray start --head) or unset RAY_ADDRESS for a local one") from None


# -- inside the Ray worker ---------------------------------------------------------------------
class Relay:
    """Progress events from running tasks to the driver, and stop requests back."""

    def __init__(self) -> None:
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.stops: set[str] = set()

    def push(self, key: str, events: list[dict[str, Any]]) -> bool:
        """Queue a task's events; True when the driver asked this task to stop."""
        self.events.setdefault(key, []).extend(events)
        return key in self.stops

    def pull(self, key: str) -> list[dict[str, Any]]:
        return self.events.pop(key, [])

    def stop(self, key: str) -> None:
        self.stops.add(key)

    def forget(self, key: str) -> None:
        self.events.pop(key, None)
        self.stops.discard(key)


def _files(scratch: Path, skip: set[str]) -> tuple[dict[str, bytes], list[str]]:
    """The files the worker wrote (relative path -> bytes), and those too large to send."""
    files, dropped = {}, []
    for path in sorted(scratch.rglob("*")):
        rel = path.relative_to(scratch).as_posix()
        if not path.is_file() or path.is_symlink() or rel in skip or rel.split("/")[0] == "tmp":
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            dropped.append(rel)
            continue
        files[rel] = path.read_bytes()
    return files, dropped


def run_remote(job_fields: dict[str, Any], inputs: dict[str, tuple[str, bytes]], relay: Any,
               key: str) -> dict[str, Any]:
    """The body of the Ray task: run the job in a sandboxed worker on this node.

    Candidate code is only ever loaded by that worker subprocess, never here.
    """
    import ray

    from text2reward.sandbox.local import run_job

    scratch = Path(tempfile.mkdtemp(prefix="t2r-ray-")).resolve()
    try:
        fields = dict(job_fields, out_dir=str(scratch))
        for name, (filename, data) in inputs.items():
            (scratch / filename).write_bytes(data)
            fields[name] = str(scratch / filename)
        buffer: list[dict[str, Any]] = []
        last = [0.0]

        def flush() -> None:
            if relay is None:
                return
            stop = ray.get(relay.push.remote(key, buffer[:]))
            buffer.clear()
            last[0] = time.monotonic()
            if stop:
                (scratch / STOP_FILE).touch()

        def on_event(event: dict[str, Any]) -> None:
            buffer.append(event)
            if time.monotonic() - last[0] >= POLL_S / 2:
                flush()

        result = run_job(Job(**fields), on_event)
        flush()
        skip = {filename for filename, _ in inputs.values()} | {"job.json", STOP_FILE}
        files, dropped = _files(scratch, skip)
        return {"result": result, "files": files, "dropped": dropped,
                "node": ray.util.get_node_ip_address()}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# -- on the driver ----------------------------------------------------------------------------
class RayExecutor:
    """A drop-in for ``run_job(job, on_event) -> result`` that runs each job as a Ray task."""

    def __init__(self, address: str | None = None, num_cpus: float = 1) -> None:
        import ray

        self.address = connect(address)
        self._ray = ray
        self._task = ray.remote(run_remote).options(num_cpus=num_cpus, max_retries=0)
        self._relay = ray.remote(Relay).options(num_cpus=0).remote()
        self._inflight: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, job: Job, on_event: OnEvent = lambda e: None) -> dict[str, Any]:
        ray = self._ray
        out_dir = Path(job.out_dir).resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("result.json", STOP_FILE):
            (out_dir / stale).unlink(missing_ok=True)
        inputs = {}
        for name in INPUT_FIELDS:
            path = getattr(job, name)
            if path is not None:
                filename = Path(path).name if name == "program_path" else \
                    f"input-{name.split('_')[0]}{''.join(Path(path).suffixes)}"
                inputs[name] = (filename, Path(path).read_bytes())
        (out_dir / "job.json").write_text(job.to_json())
        key = uuid.uuid4().hex
        start = time.perf_counter()
        ref = self._task.remote(dataclasses.asdict(job), inputs, self._relay, key)
        with self._lock:
            self._inflight[key] = ref
        stop_sent = False
        try:
            deadline = start + job.timeout_s + QUEUE_ALLOWANCE_S
            while True:
                ready, _ = ray.wait([ref], timeout=POLL_S)
                for event in ray.get(self._relay.pull.remote(key)):
                    on_event(event)
                if not stop_sent and (out_dir / STOP_FILE).exists():
                    self._relay.stop.remote(key)
                    stop_sent = True
                if ready:
                    break
                if time.perf_counter() > deadline:
                    ray.cancel(ref, force=True)
                    return {"status": "failed", "wall_time_s": time.perf_counter() - start,
                            "reason": f"the Ray task did not finish within {job.timeout_s:.0f} s "
                                      f"plus {QUEUE_ALLOWANCE_S:.0f} s of queueing"}
            payload = ray.get(ref)
        except ray.exceptions.RayError as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return {"status": "failed", "reason": f"the Ray task failed: {first}",
                    "wall_time_s": time.perf_counter() - start}
        finally:
            with self._lock:
                self._inflight.pop(key, None)
            self._relay.forget.remote(key)
        for rel, data in payload["files"].items():
            target = out_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        result = payload["result"]
        result["executor"] = {"kind": "ray", "node": payload["node"],
                              "files_not_returned": payload["dropped"]}
        return result

    def kill_all(self) -> None:
        """Cancel every running task (its worker dies with the Ray worker: PR_SET_PDEATHSIG)."""
        with self._lock:
            refs = list(self._inflight.values())
        for ref in refs:
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 (already finished or the cluster is gone)
                pass
