"""Record, replay and cache of LLM requests.

Every request a run makes is appended, as it completes, to ``RUN_DIR/llm/requests.jsonl``:
its key, its occurrence, the reply texts and the usage. The key is the sha256 of the
canonical JSON of ``{model, messages, n, temperature, max_tokens}`` (no key, no URL, no
timeout: only what decides the reply).

Identical requests are told apart by their *occurrence*: the i-th time a run sends a given
key it is occurrence i. Replay serves occurrence i of a key from occurrence i of the record,
so a round retried with the same prompt gets the second recorded reply, not the first again.

Where a reply may come from (``Sources.lookup``), in this order:

1. ``--replay RUN_DIR``: only from RUN_DIR's record; a request not in it is an ``LLMError``.
   Nothing is ever sent to the network.
2. The run's own record (``resume``): a request this very run already paid for, at the same
   occurrence, is served from its record. This holds at any temperature: those samples were
   drawn for this run, so re-using them on resume is what an uninterrupted run would have seen.
3. The user-level disk cache (``~/.cache/text2reward/llm``, ``$XDG_CACHE_HOME`` honoured,
   ``cache_dir`` to move it, ``--no-cache`` to turn it off) -- for temperature 0 requests
   only. Decision: at temperature > 0 a request is a draw from a distribution, and two
   identical requests (K parallel samples of a round, a second run with another seed, a
   user re-running to get new ideas) are meant to give *different* samples; serving them
   from a cache would silently collapse K samples into repeats and make every rerun a
   copy of the first. At temperature 0 the user asks for the model's deterministic answer,
   so paying twice for it buys nothing.

Served exchanges cost 0: their usage has zero tokens and cost, ``cached`` or ``replayed``
true, and ``saved`` holding the tokens and cost the original request paid.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from text2reward.errors import LLMError, UsageError

RECORD = Path("llm") / "requests.jsonl"


def request_key(model: str, messages: list[dict[str, str]], n: int, temperature: float,
                max_tokens: int) -> str:
    """sha256 of the canonical JSON of what decides a reply."""
    canonical = json.dumps(
        {"model": model, "messages": messages, "n": int(n), "temperature": float(temperature),
         "max_tokens": int(max_tokens)},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/text2reward/llm``, else ``~/.cache/text2reward/llm``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "text2reward" / "llm"


def read_record(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Entries of a record per key, ordered by occurrence (then by order of recording).
    A line torn by a crash is ignored."""
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not path.exists():
        return {}
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and entry.get("key") and isinstance(entry.get("replies"), list):
            by_key[entry["key"]].append(entry)
    for entries in by_key.values():
        entries.sort(key=lambda e: e.get("occurrence", 0))  # stable: recording order breaks ties
    return dict(by_key)


class Recorder:
    """Appends one line per completed request to a run's ``llm/requests.jsonl``."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / RECORD
        self._lock = threading.Lock()

    def append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, default=str)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as fh:
                fh.write(line + "\n")
                fh.flush()
                os.fsync(fh.fileno())


class DiskCache:
    """One JSON file per key under ``root/<key[:2]>/<key>.json``; writes are atomic."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            entry = json.loads(self._path(key).read_text())
        except (OSError, json.JSONDecodeError):
            return None
        return entry if isinstance(entry, dict) and isinstance(entry.get("replies"), list) else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(entry, default=str))
            os.replace(tmp, path)
        except OSError:  # a read-only or full cache never fails a run
            pass


class Sources:
    """Where replies come from besides the network, and where they are recorded.

    ``claim(key)`` hands out the request's occurrence; ``lookup`` finds a stored reply for it;
    ``record`` appends a completed request to the run's record (and the cache, at
    temperature 0).
    """

    def __init__(self, replay: str | Path | None = None, cache_dir: str | Path | None = None,
                 cache: bool = True):
        self.replay_dir = Path(replay) if replay else None
        self.replayed: dict[str, list[dict[str, Any]]] = {}
        if self.replay_dir is not None:
            path = self.replay_dir / RECORD
            if not path.is_file():
                raise UsageError(f"--replay {self.replay_dir}: {path} does not exist; pass a run "
                                 f"folder made by `text2reward run` with an LLM model")
            self.replayed = read_record(path)
        self.own: dict[str, list[dict[str, Any]]] = {}
        self.recorder: Recorder | None = None
        self.cache = DiskCache(Path(cache_dir) if cache_dir else default_cache_dir()) if (
            cache and self.replay_dir is None) else None
        self._counts: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    @property
    def replaying(self) -> bool:
        return self.replay_dir is not None

    def attach(self, run_dir: Path) -> None:
        """Record into ``run_dir``; what it recorded before (a resumed run) is served again."""
        self.recorder = Recorder(run_dir)
        self.own = read_record(self.recorder.path)

    def claim(self, key: str) -> int:
        """The occurrence of this request: how many identical ones this run sent before it."""
        with self._lock:
            occurrence = self._counts[key]
            self._counts[key] += 1
            return occurrence

    def lookup(self, key: str, occurrence: int, temperature: float,
               describe: str) -> tuple[dict[str, Any], str] | None:
        """A stored reply for this request and where it came from ("replayed", "resumed",
        "cached"), or None to send it. While replaying, a miss is an LLMError."""
        if self.replaying:
            entries = self.replayed.get(key) or []
            if occurrence < len(entries):
                return entries[occurrence], "replayed"
            seen = (f"was recorded only {len(entries)} time(s), and this is time "
                    f"{occurrence + 1}" if entries else "is not in the record")
            raise LLMError(
                f"--replay {self.replay_dir}: {describe} {seen}; replay needs the recorded "
                f"run's --model, --samples, --temperature, --max-tokens, --history and prompts"
            )
        entries = self.own.get(key) or []
        if occurrence < len(entries):
            return entries[occurrence], "resumed"
        if self.cache is not None and temperature == 0:
            entry = self.cache.get(key)
            if entry is not None:
                return entry, "cached"
        return None

    def record(self, entry: dict[str, Any], temperature: float, paid: bool) -> None:
        """Append a completed request to the run's record; a paid temperature 0 request also
        goes to the cache."""
        if self.recorder is not None:
            self.recorder.append(entry)
        if paid and self.cache is not None and temperature == 0:
            self.cache.put(entry["key"], entry)
