"""Between rounds: a person's decisions (refine, run --interactive), the earlier rounds' bests
shown to the designer (--history), and the model's analysis of the best training
(--llm-analysis)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from text2reward.analysis.reflection import findings, reflect
from text2reward.designer import DesignContext, Feedback
from text2reward.program import code_hash
from text2reward.refine import Reviewer, review_of
from text2reward.search.records import CandidateRecord
from text2reward.search.resume import Restored
from text2reward.search.state import SearchState


class Review:
    """What happens between two rounds of a search."""

    def __init__(self, loop: SearchState, reviewer: Reviewer | None) -> None:
        self.loop = loop
        self.reviewer = reviewer  # a person deciding between rounds
        self.decisions: dict[int, dict[str, Any]] = {}  # round -> journaled "human" event
        self.review_from: int | None = None  # first round a person reviews; None: nobody does
        self.round_bests: list[Feedback | None] = []  # each round's own best, for --history
        self._analyses: dict[str, str] = {}  # code hash -> the model's analysis
        self._restored = Restored()

    @property
    def reviewed(self) -> bool:
        """A person reviews rounds of this run (then they choose the winner)."""
        return self.review_from is not None

    def adopt(self, restored: Restored) -> None:
        """The decisions and review sessions of earlier processes."""
        self._restored = restored
        self.decisions = dict(restored.decisions)
        starts = [s.get("from_round", 0) for s in restored.sessions]
        self.review_from = min(starts) if starts else (0 if self.reviewer else None)

    def round_ended(self, records: list[CandidateRecord]) -> None:
        best = None
        for rec in records:
            if rec.source and rec.beats(best):
                best = rec
        self.round_bests.append(feedback_of(best))

    # -- a person's decision ------------------------------------------------------------------
    def decide(self, r: int, records: list[CandidateRecord]) -> dict[str, Any] | None:
        """A person's decision on round ``r``: replayed from the journal, or asked and journaled
        (only at the frontier: never when round r + 1 already began in an earlier process)."""
        loop, decision = self.loop, self.decisions.get(r)
        asks = self.reviewer is not None and self.review_from is not None \
            and r >= self.review_from and r + 1 not in self._restored.proposals
        if decision is None and asks:
            review = review_of(r, loop.config.rounds, loop.store.root, records, loop.best)
            decision = self.reviewer(review).event(r)
            loop.store.journal(decision)
            self.decisions[r] = decision
        if decision is not None and decision["action"] == "choose":
            self._prefer(r, decision)
        return decision

    def _prefer(self, r: int, decision: dict[str, Any]) -> None:
        """The preferred rollout's candidate becomes the best, the next round's parent. On a
        replay, rounds after ``r`` that already ran compete with it as they did then."""
        loop, (pr, pi) = self.loop, decision["chosen"]
        found = [c for rnd in loop.rounds if rnd["round"] == pr for c in rnd["candidates"]
                 if c.index == pi and c.result is not None and c.result.trained]
        if not found:
            return
        best = found[0]
        for later, records in sorted(self._restored.records.items()):
            for rec in records.values() if later > r else ():
                if rec.beats(best):
                    best = rec
        if loop.best is None or loop.best.at != best.at:
            loop.set_best(best, by="person" if best.at == (pr, pi) else None)

    # -- what the designer is shown -------------------------------------------------------------
    def history(self, feedback: Feedback | None) -> list[Feedback]:
        """The best programs of earlier rounds (oldest first) besides the best so far, for a
        history length H > 1: at most H - 1 of them."""
        keep = getattr(self.loop.config, "history", 1) - 1
        if feedback is None or keep < 1:
            return []
        earlier, seen = [], {feedback.source}
        for fb in reversed(self.round_bests):
            if fb is not None and fb.source not in seen and len(earlier) < keep:
                earlier.append(fb)
                seen.add(fb.source)
        return earlier[::-1]

    def analysed(self, ctx: DesignContext, feedback: Feedback | None) -> Feedback | None:
        """--llm-analysis: append the model's analysis of the best program's training to its
        reflection (one request per new best)."""
        loop = self.loop
        analyse = getattr(loop.designer, "analyse", None)
        if feedback is None or not (getattr(loop.config, "llm_analysis", False) and analyse):
            return feedback
        key = code_hash(feedback.source)
        if key not in self._analyses:
            if loop.usage.budget_reached():
                return feedback
            text, exchanges = analyse(ctx, feedback)
            loop.usage.record(ctx.round, exchanges)
            self._analyses[key] = text
            loop.store.journal({"event": "analysis", "round": ctx.round, "code_hash": key,
                                "text": text})
        text = self._analyses[key]
        if not text:
            return feedback
        return replace(feedback, reflection=f"{feedback.reflection}\n\nAn analysis of this "
                                            f"training (written by a model):\n{text}")


def feedback_of(record: CandidateRecord | None) -> Feedback | None:
    """A trained program with its reflection and the analyzer's findings."""
    if record is None or record.result is None:
        return None
    result = record.result.to_json()
    return Feedback(source=record.source or "", reflection=reflect(result),
                    findings=findings(result), params=record.params)
