"""The run folder: resolved config, exact command, journal, per-candidate files, best artefacts.

Every write of a result file is atomic (temp file + rename) and the journal is append-only
JSON lines flushed to disk as events happen, so a run that is killed loses no finished work.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shlex
import shutil
import time
from pathlib import Path
from typing import Any

from text2reward.errors import RunLockedError, UsageError
from text2reward.runfolder import JOURNAL, candidate_path
from text2reward.training.normalize import beside


def slugify(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "task"


def default_run_dir(env_id: str, task: str, root: Path = Path("runs")) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return root / f"{stamp}-{env_id}-{slugify(task)}"


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_copy(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` so that ``target`` is never seen half-written."""
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


class RunStore:
    """One run folder, held with an exclusive lock while a process works in it."""

    def __init__(self, root: Path):
        self.root = root
        self._lock_fh = None

    @classmethod
    def create(cls, root: Path, config: dict[str, Any]) -> RunStore:
        """Create a new run folder (refusing a non-empty one) and lock it."""
        if root.exists() and any(root.iterdir()):
            raise UsageError(f"run folder {root} already exists and is not empty; "
                             "choose another --out")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise UsageError(f"cannot create the run folder {root}: "
                             f"{exc.strerror or exc}; choose another --out") from None
        store = cls(root)
        store.lock()
        store.write_json("config.json", config)
        atomic_write(root / "command.txt", shlex.join(config.get("command") or []) + "\n")
        return store

    @classmethod
    def open(cls, root: Path) -> RunStore:
        """Open an existing run folder for more work, locked against a second process."""
        if not (root / "config.json").is_file():
            raise UsageError(f"{root} is not a text2reward run folder (no config.json)")
        store = cls(root)
        store.lock()
        return store

    def config(self) -> dict[str, Any]:
        try:
            return json.loads((self.root / "config.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{self.root / 'config.json'} is unreadable: {exc}") from None

    def lock(self) -> None:
        fh = open(self.root / ".lock", "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise RunLockedError(f"another text2reward process is using {self.root}; "
                                 "wait for it to finish or stop it") from None
        self._lock_fh = fh

    def close(self) -> None:
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def candidate_dir(self, round_index: int, index: int) -> Path:
        path = candidate_path(self.root, round_index, index)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def journal(self, event: dict[str, Any]) -> None:
        """Append one event to journal.jsonl and push it to disk."""
        line = json.dumps({"time": time.time(), **event}, default=str)
        with open(self.root / JOURNAL, "a") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def write_json(self, relative: str | Path, data: Any) -> None:
        atomic_write(self.root / relative, json.dumps(data, indent=1, default=str) + "\n")

    def write_text(self, relative: str | Path, text: str) -> None:
        atomic_write(self.root / relative, text)

    def save_best(self, source: str, policy: Path | None) -> None:
        """Keep the best program and its policy at the top of the run folder."""
        self.write_text("best_reward.py", source)
        if policy is not None and policy.exists():
            atomic_copy(policy, self.root / "best_policy.zip")
            stats, best_stats = beside(policy), beside(self.root / "best_policy.zip")
            if stats.exists():  # the observation normalisation the policy needs
                atomic_copy(stats, best_stats)
            else:
                best_stats.unlink(missing_ok=True)

