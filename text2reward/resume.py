"""Rebuild a run's finished work from its folder, so an interrupted run continues losslessly.

The journal is the source of truth: a round's proposals are journaled before any of its
candidates is evaluated, and a candidate's record only once it is finished. Anything not in
the journal is redone; anything in it is reused. A person's decisions between rounds
(``refine``, ``run --interactive``) are journaled too and replayed, never asked again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from text2reward.designer import Candidate


@dataclass
class Restored:
    """Finished work of an earlier process: proposals and candidate records per round."""

    proposals: dict[int, list[Candidate]] = field(default_factory=dict)
    records: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    usage: dict[str, float] = field(default_factory=dict)
    decisions: dict[int, dict[str, Any]] = field(default_factory=dict)  # round -> "human" event
    sessions: list[dict[str, Any]] = field(default_factory=list)  # "review_session" events

    @property
    def finished(self) -> int:
        return sum(len(r) for r in self.records.values())


def read_journal(root: Path) -> list[dict[str, Any]]:
    """Every complete event of journal.jsonl (a line torn by a crash is ignored)."""
    path = root / "journal.jsonl"
    if not path.exists():
        return []
    events = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def _result(folder: Path, record: dict[str, Any], records_by_hash: dict[str, dict],
            records_at: dict[tuple[int, int], dict]) -> dict:
    if record.get("duplicate_of"):
        at = tuple(record["duplicate_of"])
        original = records_at.get(at) or records_by_hash.get(record.get("code_hash"), {})
        return {**original.get("_result", {}), "duplicate_of": record["duplicate_of"],
                "reason": record.get("reason")}
    path = folder / "result.json"
    if record.get("status") == "trained" and path.exists():
        return json.loads(path.read_text())
    return {"status": record.get("status"), "reason": record.get("reason")}


def restore(root: Path) -> Restored:
    """Read the proposals, finished candidates and LLM usage recorded in ``root``."""
    restored = Restored()
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0, "requests": 0}
    by_hash: dict[str, dict] = {}
    by_at: dict[tuple[int, int], dict] = {}
    for event in read_journal(root):
        kind = event.get("event")
        if kind == "proposed":
            restored.proposals[event["round"]] = [Candidate(**c) for c in event["candidates"]]
        elif kind == "candidate":
            r, index = event["round"], event["index"]
            record = {k: v for k, v in event.items() if k not in ("event", "round", "time")}
            folder = root / "rounds" / f"r{r:02d}" / f"c{index:02d}"
            program = folder / "program.py"
            if program.exists():
                record["source"] = program.read_text()
            record["_result"] = _result(folder, record, by_hash, by_at)
            if record.get("code_hash") and not record.get("duplicate_of"):
                by_hash.setdefault(record["code_hash"], record)
            by_at[(r, index)] = record
            restored.records.setdefault(r, {})[index] = record
        elif kind == "human":  # a person's decision after a round; the latest one counts
            if event.get("action") == "reopen":  # a new refine session asks this round again
                restored.decisions.pop(event["round"], None)
            else:
                restored.decisions[event["round"]] = event
        elif kind == "review_session":
            restored.sessions.append(event)
        elif kind == "llm":
            usage["requests"] += 1
            for key in ("prompt_tokens", "completion_tokens", "cost_usd"):
                usage[key] += (event.get("usage") or {}).get(key) or 0
    # A round whose proposals were never journaled is redone whole.
    restored.records = {r: recs for r, recs in restored.records.items() if r in restored.proposals}
    restored.usage = usage
    return restored
