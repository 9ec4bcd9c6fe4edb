"""The candidate's life as typed records: the critics' verdict on each attempt, the training's
result, and the candidate record that the journal and summary.json carry.

Each record reads and writes the JSON of the run folder (``from_json`` / ``to_json``), so run
folders written before these types existed open unchanged. The ranking of candidates is
defined here once: :func:`rank_key`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from text2reward.program import TRAINING_FAULT

UNRANKED = (-math.inf, -math.inf)


def rank_key(success_rate: float | None, score: float | None) -> tuple[float, float]:
    """Candidates rank by the task's ground-truth success, never by their own reward: the
    success rate first (none measured counts as 0), then the task score.

    >>> rank_key(1.0, 3.0) > rank_key(0.9, 50.0)
    True
    >>> rank_key(None, 2.0) > rank_key(None, 1.0)
    True
    """
    return (success_rate if success_rate is not None else 0.0,
            score if score is not None else -math.inf)


def _split(data: dict[str, Any], names: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    known = {k: v for k, v in data.items() if k in names}
    return known, {k: v for k, v in data.items() if k not in names}


def _names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)} - {"extra"}


@dataclass
class CheckVerdict:
    """The critics' judgement on one attempt of a program (one entry of ``critic.json``)."""

    accepted: bool
    stage: str  # extract | static | runtime | prescreen | repeat
    error: str | None = None  # what the model is told when the attempt is refused
    warnings: list[str] | None = None
    ms_per_call: float | None = None
    signature: str | None = None  # the reward's signature on the critic's shared transitions
    code_hash: str | None = None
    extraction: dict[str, Any] | None = None  # which block of the reply was taken, and why
    same_as_attempt: int | None = None  # a repeat of this earlier refused attempt
    prescreen: dict[str, Any] | None = None  # the pre-screen's verdict on stored episodes
    correlation: dict[str, Any] | None = None  # its returns against success and the expert
    extra: dict[str, Any] = field(default_factory=dict)  # keys of other versions, kept

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckVerdict:
        known, extra = _split(data, _names(cls))
        return cls(**known, extra=extra)

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"
               and getattr(self, f.name) is not None}
        return {**out, **self.extra}


@dataclass
class TrainingResult:
    """What a sandboxed training (or its absence) came to: the worker's ``result.json``.

    ``eval`` is the final evaluation (score, success_rate, env_return, components, episodes,
    ...); ``extra`` keeps the rest of the worker's document (snapshots, threshold, findings)
    for the analyzer and the report."""

    status: str | None  # trained | failed | rejected | skipped | stopped
    reason: str | None = None
    eval: dict[str, Any] = field(default_factory=dict)
    steps: int | None = None
    budget: int | None = None
    steps_per_s: float | None = None
    wall_time_s: float | None = None
    stopped_early: str | None = None
    duplicate_of: list[int] | None = None  # [round, index] whose result this one reuses
    at: list[int] | None = None  # [round, index] of the candidate that was trained
    pauses: list[dict[str, Any]] | None = None  # each pause's score and the run's decision
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainingResult:
        known, extra = _split(data, _names(cls))
        known.setdefault("status", None)
        known["eval"] = dict(known.get("eval") or {})
        return cls(**known, extra=extra)

    def to_json(self) -> dict[str, Any]:
        """The worker's document as it was read, with this result's fields."""
        out = dict(self.extra)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "extra" and (value is not None or f.name in ("status", "reason")):
                out[f.name] = value
        if not self.eval and "eval" in out:
            del out["eval"]
        return out

    @property
    def trained(self) -> bool:
        return self.status == "trained"

    @property
    def rank(self) -> tuple[float, float]:
        if not self.trained:
            return UNRANKED
        return rank_key(self.eval.get("success_rate"), self.eval.get("score", -math.inf))

    @property
    def fraction(self) -> float:
        """The share of its budget the training ran (0 when it never ran)."""
        if not self.budget:
            return 0.0
        return min((self.steps or 0) / self.budget, 1.0)

    def reused_as(self, at: list[int], reason: str | None) -> TrainingResult:
        """This result, reused for a duplicate of the candidate trained at ``at``."""
        data = self.to_json()
        data.update(duplicate_of=list(at), reason=reason if reason is not None
                    else data.get("reason"))
        return TrainingResult.from_json(data)


# The record's fields written in the journal and summary.json, in their order.
_PUBLIC = ("index", "origin", "params", "attempts", "code_hash", "signature", "critique",
           "warm_start_from", "status", "reason", "score", "success_rate", "success",
           "env_return", "steps", "steps_per_s", "wall_time_s", "duplicate_of", "stopped_early")
_OPTIONAL = ("code_hash", "signature", "critique", "warm_start_from")  # absent until set


@dataclass
class CandidateRecord:
    """One candidate from proposal to result: its attempts, the program the critics accepted,
    and how its training ended."""

    index: int
    round: int = 0
    origin: str | None = ""
    params: dict[str, float] | None = None
    attempts: list[CheckVerdict] = field(default_factory=list)
    code_hash: str | None = None
    signature: str | None = None
    critique: dict[str, Any] | None = None  # --llm-critique's note
    warm_start_from: list[int] | None = None
    status: str | None = None
    reason: str | None = None
    score: float | None = None
    success_rate: float | None = None
    success: bool | None = None
    env_return: float | None = None
    steps: int | None = None
    steps_per_s: float | None = None
    wall_time_s: float | None = None
    duplicate_of: list[int] | None = None
    stopped_early: str | None = None
    source: str | None = None  # the program (program.py), not in the journal
    result: TrainingResult | None = None  # the full result (result.json), not in the journal
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def at(self) -> tuple[int, int]:
        return (self.round, self.index)

    @property
    def original(self) -> bool:
        """Trained or not, this candidate is no duplicate of another."""
        return not self.duplicate_of

    @property
    def rank(self) -> tuple[float, float]:
        """Its place in the ranking: only trained originals rank."""
        if self.result is None or not self.original:
            return UNRANKED
        return self.result.rank

    @property
    def ranked(self) -> bool:
        return self.result is not None and self.result.trained and self.original

    @property
    def faulted(self) -> bool:
        """Its reward failed during training (NaN, inf, an exception on states the critics
        never reached): the next round asks for a repair of it."""
        return self.status == "failed" and (self.reason or "").startswith(TRAINING_FAULT)

    def beats(self, other: CandidateRecord | None) -> bool:
        """A trained original that the task's success ranks above ``other``."""
        return self.ranked and (other is None or self.rank > other.rank)

    def finish(self, result: TrainingResult, threshold: float | None) -> None:
        """Take the outcome of ``result`` into the record."""
        final = result.eval
        score = final.get("score")
        self.status, self.reason = result.status, result.reason
        self.score, self.success_rate = score, final.get("success_rate")
        self.success = None if threshold is None or score is None else score >= threshold
        self.env_return = final.get("env_return")
        self.steps, self.steps_per_s = result.steps, result.steps_per_s
        self.wall_time_s = result.wall_time_s
        self.duplicate_of, self.stopped_early = result.duplicate_of, result.stopped_early
        self.result = result

    def to_json(self, with_round: bool = False) -> dict[str, Any]:
        """The record as the journal and summary.json carry it (no program, no full result)."""
        out: dict[str, Any] = {"round": self.round} if with_round else {}
        for name in _PUBLIC:
            value = getattr(self, name)
            if name == "attempts":
                value = [a.to_json() for a in value]
            if name in _OPTIONAL and value is None:
                continue
            out[name] = value
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, data: dict[str, Any], round: int = 0,
                  source: str | None = None) -> CandidateRecord:
        known, extra = _split(data, set(_PUBLIC))
        extra = {k: v for k, v in extra.items() if k not in ("event", "round", "time", "source")}
        known["attempts"] = [CheckVerdict.from_json(a) for a in known.get("attempts") or ()]
        return cls(**known, round=data.get("round", round), source=source, extra=extra)
