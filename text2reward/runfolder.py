"""A finished (or running) run folder, read-only: config, summary, candidates' files and media.

Used by the report, the exporter and the rollout renderer; it never writes. The folder's layout
(``candidate_path``, the journal) is defined here; ``store.RunStore`` writes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from text2reward.errors import UsageError
from text2reward.search.records import rank_key

JOURNAL = "journal.jsonl"
MEDIA_TYPES = {".gif": "image/gif", ".png": "image/png", ".mp4": "video/mp4", ".webm": "video/webm"}


def candidate_path(root: Path, r: int, index: int) -> Path:
    """The folder of round ``r``'s candidate ``index`` in the run folder ``root``.

    >>> candidate_path(Path("run"), 1, 3).as_posix()
    'run/rounds/r01/c03'
    """
    return Path(root) / "rounds" / f"r{r:02d}" / f"c{index:02d}"


def candidate_files(root: Path, name: str) -> list[tuple[tuple[int, int], Path]]:
    """Each candidate's file ``name`` in the run folder ``root`` that exists, as
    ((round, index), path), in candidate order."""
    found = []
    for path in Path(root).glob(f"rounds/r*/c*/{name}"):
        found.append(((int(path.parent.parent.name[1:]), int(path.parent.name[1:])), path))
    return sorted(found)


def candidate_label(r: int, index: int) -> str:
    """A candidate's short name, as its folder is named (``r01/c03``)."""
    return f"r{r:02d}/c{index:02d}"


def read_journal(root: Path) -> list[dict[str, Any]]:
    """Every complete event of the run's journal (a line torn by a crash is ignored)."""
    path = Path(root) / JOURNAL
    if not path.exists():
        return []
    events = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


class Run:
    """The parts of a run folder the report reads."""

    def __init__(self, root: Path):
        if not (root / "config.json").is_file():
            raise UsageError(
                f"{root} is not a text2reward run folder (no config.json); pass the "
                "folder that `text2reward run` printed"
            )
        self.root = root
        self.config = _read_json(root / "config.json")
        if not (root / "summary.json").is_file():
            raise UsageError(
                f"{root} has no summary.json yet (no round has finished); "
                f"finish it with `text2reward resume {root}`"
            )
        self.summary = _read_json(root / "summary.json")

    @property
    def rounds(self) -> list[dict[str, Any]]:
        return self.summary.get("rounds") or []

    @property
    def best(self) -> dict[str, Any] | None:
        return self.summary.get("best")

    def folder(self, r: int, i: int) -> Path:
        return candidate_path(self.root, r, i)

    def result(self, r: int, i: int) -> dict[str, Any]:
        path = self.folder(r, i) / "result.json"
        return _read_json(path) if path.is_file() else {}

    def text(self, r: int, i: int, name: str) -> str | None:
        path = self.folder(r, i) / name
        return path.read_text(errors="replace") if path.is_file() else None

    def round_best(self, rnd: dict[str, Any]) -> dict[str, Any] | None:
        """The round's best trained candidate, ranked like the loop: success rate, then score."""
        trained = [
            c
            for c in rnd["candidates"]
            if c.get("status") == "trained"
            and c.get("score") is not None
            and not c.get("duplicate_of")
        ]
        return max(trained, key=lambda c: rank_key(c.get("success_rate"), c["score"]),
                   default=None)

    def media(self) -> list[tuple[str, Path]]:
        """Rollout media in candidate folders, as (label, path), best candidate first."""
        found = []
        for path in sorted((self.root / "rounds").glob("r*/c*/*")):
            if path.suffix.lower() in MEDIA_TYPES and path.is_file():
                r, i = int(path.parent.parent.name[1:]), int(path.parent.name[1:])
                best = (r, i) == at_of(self.best)
                label = f"round {r} candidate {i}{' (best)' if best else ''}: {path.name}"
                found.append((not best, label, path))
        return [(label, path) for _, label, path in sorted(found, key=lambda f: f[0])]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is unreadable: {exc}") from None


def at_of(record: dict[str, Any] | None) -> tuple[int, int] | None:
    return None if record is None else (record["round"], record["index"])

