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
from text2reward.runfolder import candidate_files, candidate_path, read_journal
from text2reward.search.records import CandidateRecord, TrainingResult
from text2reward.training import checkpoint


@dataclass
class Restored:
    """Finished work of an earlier process: proposals and candidate records per round."""

    proposals: dict[int, list[Candidate]] = field(default_factory=dict)
    records: dict[int, dict[int, CandidateRecord]] = field(default_factory=dict)
    usage: dict[str, float] = field(default_factory=dict)
    decisions: dict[int, dict[str, Any]] = field(default_factory=dict)  # round -> "human" event
    sessions: list[dict[str, Any]] = field(default_factory=list)  # "review_session" events
    checkpointed: list[tuple[int, int]] = field(default_factory=list)  # unfinished trainings
    # that continue from a checkpoint (training/checkpoint.py)

    @property
    def finished(self) -> int:
        return sum(len(r) for r in self.records.values())


def _result(folder: Path, record: CandidateRecord,
            originals: dict[tuple[int, int] | str, CandidateRecord]) -> TrainingResult:
    """The full result of a finished candidate: its result.json, or its original's."""
    if record.duplicate_of:
        original = originals.get(tuple(record.duplicate_of)) or originals.get(
            record.code_hash or "")
        if original is not None and original.result is not None:
            return original.result.reused_as(record.duplicate_of, record.reason)
        return TrainingResult(status=record.status, reason=record.reason,
                              duplicate_of=record.duplicate_of)
    path = folder / "result.json"
    if record.status == "trained" and path.exists():
        return TrainingResult.from_json(json.loads(path.read_text()))
    return TrainingResult(status=record.status, reason=record.reason)


def restore(root: Path) -> Restored:
    """Read the proposals, finished candidates and LLM usage recorded in ``root``."""
    restored = Restored()
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0, "requests": 0}
    originals: dict[tuple[int, int] | str, CandidateRecord] = {}  # by [round, index] and hash
    for event in read_journal(root):
        kind = event.get("event")
        if kind == "proposed":
            restored.proposals[event["round"]] = [Candidate(**c) for c in event["candidates"]]
        elif kind == "candidate":
            r, index = event["round"], event["index"]
            folder = candidate_path(root, r, index)
            program = folder / "program.py"
            record = CandidateRecord.from_json(
                event, r, program.read_text() if program.exists() else None)
            record.result = _result(folder, record, originals)
            if record.code_hash and record.original:
                originals.setdefault(record.code_hash, record)
            originals[(r, index)] = record
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
    restored.checkpointed = [at for at, job in candidate_files(root, "job.json")
                             if at[1] not in restored.records.get(at[0], {})
                             and checkpoint.last(job.parent) is not None]
    return restored
