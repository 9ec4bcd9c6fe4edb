"""summary.json: the state of a search, written after each candidate and each round."""

from __future__ import annotations

import time
from typing import Any

from text2reward.sandbox.lockdown import layers
from text2reward.search.records import CandidateRecord
from text2reward.search.state import SearchState


def write_summary(loop: SearchState, status: str) -> dict[str, Any]:
    """Write the search's summary.json (``status``: running, finished or failed)."""
    with loop.summary_lock:
        summary = summary_of(loop, status)
        loop.store.write_json("summary.json", summary)
        return summary


def summary_of(loop: SearchState, status: str) -> dict[str, Any]:
    s, rounds = loop.setup, rounds_so_far(loop)
    screening = loop.parts.screening
    return {
        "status": status,
        "env": s.spec.env_id,
        "task": loop.config.task,
        "task_key": s.task.key if s.task else None,
        "model": loop.config.model,
        "success": {"kind": s.score_kind, "metric": s.metric, "threshold": s.threshold},
        "sandbox": layers(),
        "rounds": [{"round": r["round"], "candidates": [c.to_json() for c in r["candidates"]],
                    "usage": loop.usage.of_round(r["round"])} for r in rounds],
        "best": loop.best.to_json(with_round=True) if loop.best else None,
        "usage": dict(loop.usage.total),
        "prescreen": dict(screening.counts if screening else
                          {"rejections": 0, "trainings_saved": 0}),
        "stopped": loop.stopped or loop.usage.reached,
        "failure": loop.failure,
        "reevaluation": loop.reevaluation,
        "allocation": loop.stop.allocation,
        "env_steps": sum(c.steps or 0 for r in rounds for c in r["candidates"]
                         if c.original),
        "wall_time_s": time.time() - loop.started,
    }


def rounds_so_far(loop: SearchState) -> list[dict[str, Any]]:
    """Finished rounds, and the candidates of the round in progress that are done."""
    partial = loop.partial
    if partial is None or not partial["candidates"]:
        return list(loop.rounds)
    done = dict(partial["candidates"])
    return [*loop.rounds, {"round": partial["round"],
                           "candidates": [c for _, c in sorted(done.items())]}]


def why_none(rounds: list[dict[str, Any]]) -> str:
    """Why no candidate was trained: how each one ended, and the last finding."""
    ends: dict[str, int] = {}
    last = None
    for rnd in rounds:
        for rec in rnd["candidates"]:
            what, reason = _end(rec)
            last = reason or last
            ends[what] = ends.get(what, 0) + 1
    if not ends:
        return "no round produced a candidate"
    counts = ", ".join(f"{n} {what}" for what, n in sorted(ends.items()))
    first = (last or "").strip().splitlines()[0][:300] if last else ""
    return counts + (f"; the last reason: {first}" if first else "")


def _end(rec: CandidateRecord) -> tuple[str, str | None]:
    failed = next((a for a in reversed(rec.attempts) if not a.accepted), None)
    if rec.status == "rejected" and failed is not None:
        return f"rejected at the {failed.stage or '?'} stage", failed.error
    return str(rec.status or "not finished"), rec.reason
