"""The sandboxed worker: every untrusted step (checking a program, training on it) runs here.

- ``job``: what a worker is asked to do (:class:`Job`, one JSON file);
- ``worker``: the worker process itself (``python -m text2reward.sandbox.worker JOB.json``);
- ``lockdown``: what the worker may touch (namespaces, seccomp, rlimits; see ``layers()``);
- ``local`` and ``ray``: the executors that start workers on this machine or as Ray tasks.

One executor protocol: an executor is called with a job (and a callback for the worker's JSON
events) and returns the worker's result dict; ``kill_all()`` stops every worker it started.

One stop protocol, through files in the job's folder, for both executors: the run writes
``stop`` (its text is the reason) to end a training early, and ``decision-P`` (``go`` or a
reason to stop) to answer a training paused at fraction ``P`` of its budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from text2reward.sandbox.job import STOP_FILE, Job, decision_path, request_stop, stop_requested

OnEvent = Callable[[dict[str, Any]], None]


class Executor(Protocol):
    """Runs jobs in sandboxed workers."""

    def __call__(self, job: Job, on_event: OnEvent = ...) -> dict[str, Any]: ...

    def kill_all(self) -> None: ...


class LocalExecutor:
    """Workers as subprocesses of this machine."""

    def __call__(self, job: Job, on_event: OnEvent = lambda e: None) -> dict[str, Any]:
        from text2reward.sandbox.local import run_job

        return run_job(job, on_event)

    def kill_all(self) -> None:
        from text2reward.sandbox.local import kill_all

        kill_all()


def executor(name: str = "local") -> Executor:
    """The executor called ``name``: ``local`` or ``ray``."""
    if name == "ray":
        from text2reward.sandbox.ray import RayExecutor

        return RayExecutor()
    return LocalExecutor()


__all__ = ["STOP_FILE", "Executor", "Job", "LocalExecutor", "OnEvent", "decision_path",
           "executor", "request_stop", "stop_requested"]
