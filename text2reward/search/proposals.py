"""A round's candidates: repairs of the last round's programs whose reward failed during
training, then the designer's new proposals for the remaining samples."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from text2reward.designer import Candidate, DesignContext
from text2reward.search.candidate import Collaborators
from text2reward.search.records import CandidateRecord

PROPOSAL_RETRIES = 2  # a round whose replies hold no program at all is asked again


def propose(ctx: DesignContext, parts: Collaborators,
            rounds: list[dict[str, Any]]) -> list[Candidate]:
    """Round ``ctx.round``'s candidates, journaled (``proposed``) before any is evaluated.
    ``rounds``: the finished rounds before it."""
    samples, usage = parts.config.samples, parts.usage
    last = rounds[-1]["candidates"] if rounds else []
    repairs = training_repairs(ctx, parts, last)
    candidates: list[Candidate] = []
    for attempt in range(PROPOSAL_RETRIES + 1):
        if len(repairs) >= samples or attempt and usage.budget_reached():
            break  # the failed samples stay the round's candidates
        candidates, exchanges = parts.designer.propose(ctx, samples - len(repairs))
        usage.record(ctx.round, exchanges)
        if repairs or any(c.source or c.reply for c in candidates):
            break  # replies without a program are answered with why, by the critics
        parts.store.journal({"event": "round_failed", "round": ctx.round, "attempt": attempt,
                             "errors": [c.error for c in candidates]})
    candidates = [*repairs, *candidates]
    parts.store.journal({"event": "proposed", "round": ctx.round,
                         "candidates": [asdict(c) for c in candidates]})
    return candidates


def training_repairs(ctx: DesignContext, parts: Collaborators,
                     last: list[CandidateRecord]) -> list[Candidate]:
    """A repair request for each program of the last round whose reward failed during
    training (NaN or inf on states the critics never reached, or an exception), sent the
    failure and the state it happened in; at most one round's samples."""
    repairs = []
    for rec in [rec for rec in last if rec.faulted and rec.source][:parts.config.samples]:
        if parts.usage.budget_reached():
            break
        broken = Candidate(rec.source, origin=rec.origin or "", params=rec.params)
        repaired, exchanges = parts.designer.repair(ctx, broken, rec.reason or "")
        parts.usage.record(ctx.round, exchanges)
        parts.store.journal({"event": "training_repair", "round": ctx.round,
                             "of": [rec.round, rec.index], "reason": rec.reason})
        repairs.append(replace(repaired, origin=f"{repaired.origin} of r{rec.round} "
                                                f"c{rec.index} (its reward failed in training)"))
    return repairs
