"""The rounds: design -> static critic -> runtime critic (with repairs) -> training -> analysis.

Reads top to bottom as the README's "What a run does". Candidates of a round go through
their own pipeline (``search/candidate.py``) concurrently, ``workers`` at a time, each
untrusted step in a sandboxed worker. Selection uses the task's ground-truth score, never a
candidate's own reward.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import Any

from text2reward.analysis.screening import Screening
from text2reward.designer import Candidate, DesignContext, Designer, Feedback
from text2reward.errors import UsageError, WorkFailed
from text2reward.refine import Reviewer, SessionLeft, human_words
from text2reward.runfolder import read_journal
from text2reward.sandbox import executor
from text2reward.search.candidate import (
    CandidatePipeline,
    Collaborators,
    Observer,
    RoundInputs,
    Setup,
)
from text2reward.search.dedupe import Seen
from text2reward.search.proposals import propose
from text2reward.search.records import CandidateRecord
from text2reward.search.reeval import Reevaluation
from text2reward.search.resume import Restored
from text2reward.search.review import Review, feedback_of
from text2reward.search.stopping import Stopping
from text2reward.search.summary import why_none, write_summary
from text2reward.search.usage import Usage
from text2reward.store import RunStore

__all__ = ["Loop", "Setup"]


class Loop:
    """One run of the agent loop over a run folder."""

    def __init__(self, config, setup: Setup, designer: Designer, store: RunStore,
                 observe: Observer = lambda e: None, reviewer: Reviewer | None = None):
        self.config, self.setup, self.designer, self.store = config, setup, designer, store
        self.observe = observe
        self.rounds: list[dict[str, Any]] = []  # finished rounds: {"round", "candidates"}
        self.best: CandidateRecord | None = None
        self.usage = Usage(store, observe, getattr(config, "budget_usd", None),
                           getattr(config, "max_total_tokens", None))
        self.stop = Stopping(config, setup.threshold, store, observe)
        self.review = Review(self, reviewer)
        self.started = time.time()
        self.stopped: str | None = None  # why the search ended before its last round
        self.failure: dict[str, Any] | None = None  # what failed inside the run, if anything
        self.reevaluation: dict[str, Any] | None = None  # the top candidates over seeds
        self.partial: dict[str, Any] | None = None  # the round in progress: index -> record
        self._lock = threading.Lock()
        self.summary_lock = threading.Lock()
        if hasattr(designer, "attach"):
            designer.attach(store.root)  # the LLM designer records requests in llm/
        screening = (Screening(setup.spec, setup.task, setup.threshold, store.root,
                               setup.spec.env_kwargs(setup.task,
                                                     getattr(config, "env_kwargs", None)))
                     if setup.threshold is not None and config.prescreen else None)
        self.parts = Collaborators(config, setup, designer, store, self.stop, Seen(),
                                   self.usage, executor(getattr(config, "executor", "local")),
                                   screening, observe)
        self.pipeline = CandidatePipeline(self.parts, self._finished)

    @property
    def interrupted(self) -> threading.Event:
        """Set by the command line's Ctrl-C and SIGTERM handler (see ``Stopping``)."""
        return self.stop.interrupted

    @interrupted.setter
    def interrupted(self, event: threading.Event) -> None:
        self.stop.interrupted = event

    # -- the rounds ---------------------------------------------------------------------------
    def run(self, restored: Restored | None = None) -> dict[str, Any]:
        """Run every round; with ``restored`` (from resume), finished work is reused, not redone.

        A failure inside the tool (any exception but an interruption) is recorded: the
        traceback in ``error.txt``, the journal, and a summary that says what failed; it is
        raised as ``WorkFailed`` (never as bad input), and ``resume`` continues the run."""
        try:
            summary = self._rounds(restored or Restored())
        except SessionLeft:
            raise  # the person left the review: not a failure, the command says so
        except Exception as exc:
            raise self._failed(exc) from exc
        if self.best is None:
            raise WorkFailed(f"no candidate could be trained: {why_none(self.rounds)}; "
                             f"see {self.store.root / 'summary.json'}")
        return summary

    def _rounds(self, restored: Restored) -> dict[str, Any]:
        self._adopt(restored)
        feedback: Feedback | None = self.feedback()
        for r in range(self.config.rounds):
            if self.interrupted.is_set():
                raise KeyboardInterrupt
            if self.usage.budget_reached():
                break  # stop cleanly: every finished round is kept, the best so far wins
            ctx = DesignContext(self.setup.spec, self.config.task, self.setup.task, r, feedback,
                                self.config.seed, self.review.history(feedback))
            self.observe({"event": "round", "round": r, "rounds": self.config.rounds})
            if r not in restored.proposals:
                self._journal_feedback(r, feedback)
            candidates = restored.proposals.get(r) or propose(ctx, self.parts, self.rounds)
            done = restored.records.get(r, {})
            records = self._evaluate_round(ctx, candidates, done)
            self.rounds.append({"round": r, "candidates": records})
            self.partial = None
            self.review.round_ended(records)
            self.write_summary("running")
            human = self.review.decide(r, records)
            feedback = self.feedback() or feedback
            if human is not None and human["action"] == "accept":
                self.stopped = f"accepted by a person after round {r}"
                self.observe({"event": "accepted", "round": r})
                break
            if self.stop.stop_on_success and self._solved() and r + 1 < self.config.rounds:
                self.stopped = f"solved in round {r}: every evaluation episode of the best succeeds"
                self.observe({"event": "solved", "round": r})
                break
            if r + 1 < self.config.rounds:
                feedback = self.review.analysed(ctx, feedback)
                words = human_words(human)
                if feedback is not None and words:
                    feedback = replace(feedback, human=words)
        self._reevaluate()
        return self.write_summary("finished" if self.best else "failed")

    def _adopt(self, restored: Restored) -> None:
        """Take over the finished work of an earlier, interrupted process."""
        self.review.adopt(restored)
        self.stop.plan(reviewed=self.review.reviewed)
        self.usage.total.update(restored.usage)
        if restored.proposals:  # per-round usage and request counts, from the same journal
            self.usage.recount(read_journal(self.store.root))
        for _, records in sorted(restored.records.items()):
            for record in records.values():
                result = record.result
                if result is not None and result.at is None:
                    result.at = list(record.at)
                if record.code_hash and record.original and result is not None:
                    self.parts.seen.remember(record, result)
                if record.ranked:
                    self._add_to_pool(record)
                if record.beats(self.best):
                    self.best = record
                self.stop.adopt(record)
        if hasattr(self.designer, "remember"):
            for candidates in restored.proposals.values():
                for cand in candidates:
                    self.designer.remember(cand)

    def _evaluate_round(self, ctx: DesignContext, candidates: list[Candidate],
                        done: dict[int, CandidateRecord]) -> list[CandidateRecord]:
        """Every candidate of the round through its pipeline (those an earlier process
        finished are kept); a summary is written as each one ends."""
        r = ctx.round
        self.partial = {"round": r, "candidates": dict(done)}
        self.stop.open_round(r, done, len(candidates))
        screening = self.parts.screening
        inputs = RoundInputs(screening.freeze(r) if screening else None, self._warm_start())
        todo = [i for i in range(len(candidates)) if i not in done]
        # with the budget bandit every candidate has a thread (a paused training sleeps in
        # its own); the bandit itself trains one at a time
        records = self.in_workers([(self.pipeline.run, (ctx, i, candidates[i], inputs))
                                   for i in todo], threads=len(todo) if self.stop.bandit else None)
        fresh = dict(zip(todo, records, strict=True))
        return [done[i] if i in done else fresh[i] for i in range(len(candidates))]

    def in_workers(self, calls: list[tuple[Callable[..., Any], tuple]],
                   threads: int | None = None) -> list[Any]:
        """Run ``calls`` (function, args) ``workers`` (or ``threads``) at a time; their results
        in order. Ctrl-C, SIGTERM or a failure stop every worker and record nothing
        half-done."""
        pool = ThreadPoolExecutor(max_workers=max(1, threads or self.config.workers))
        futures = [pool.submit(fn, *args) for fn, args in calls]
        try:
            pending = set(futures)
            while pending:
                if self.interrupted.is_set():
                    raise KeyboardInterrupt
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
                for future in done:  # a failure stops the others now: one of them may be
                    future.result()  # waiting at a pause for a decision it would have taken
            results = [f.result() for f in futures]
        except BaseException:
            self.stop.stopping = True
            self.parts.run_job.kill_all()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return results

    def _finished(self, record: CandidateRecord) -> None:
        """A candidate of this process is recorded: the pre-screen's pool, the best so far and
        the summary while the run goes on."""
        if record.ranked:
            self._add_to_pool(record)
        with self._lock:
            if record.beats(self.best):
                self.set_best(record)
        partial = self.partial
        if partial is not None and partial["round"] == record.round:
            partial["candidates"][record.index] = record
            self.write_summary("running")

    def set_best(self, record: CandidateRecord, **shown: Any) -> None:
        """``record`` becomes the run's best: its program and policy are saved as the best.
        ``shown`` overrides what the live view is told (the score, and who chose it)."""
        self.best = record
        folder = self.store.candidate_dir(record.round, record.index)
        self.store.save_best(record.source or "", folder / "policy.zip")
        self.observe({"event": "best", "round": record.round, "index": record.index,
                      "score": record.score, **shown})

    def _add_to_pool(self, record: CandidateRecord) -> None:
        if self.parts.screening is not None:
            self.parts.screening.add(self.store.candidate_dir(record.round, record.index))

    # -- between rounds -----------------------------------------------------------------------
    def feedback(self) -> Feedback | None:
        """What the next round is designed from: the best program so far, and why it did what
        it did."""
        return feedback_of(self.best)

    def _solved(self) -> bool:
        return (self.best is not None and self.best.result is not None
                and self.best.result.eval.get("success_rate") == 1.0)

    def _warm_start(self) -> tuple[list[int], str] | None:
        """--warm-start: the best policy of the rounds before this one, if it succeeded in at
        least one evaluation episode (from the completed rounds only, so a resumed run makes
        the same choice)."""
        if not getattr(self.config, "warm_start", False):
            return None
        best = None
        for rnd in self.rounds:
            for rec in rnd["candidates"]:
                if rec.beats(best):
                    best = rec
        if best is None or not (best.success_rate or 0.0) > 0.0:
            return None
        policy = self.store.candidate_dir(best.round, best.index) / "policy.zip"
        return (list(best.at), str(policy)) if policy.exists() else None

    def _journal_feedback(self, r: int, feedback: Feedback | None) -> None:
        """Keep the feedback round ``r`` is designed from, as the designer gets it (every
        designer, the offline one included)."""
        if feedback is None:
            return
        self.store.journal({"event": "feedback", "round": r, "reflection": feedback.reflection,
                            "findings": feedback.findings, "params": feedback.params,
                            "human": feedback.human})

    # -- the evidence step and the end ----------------------------------------------------------
    def _reevaluate(self) -> None:
        """The top candidates over further seeds; the best mean becomes the run's winner."""
        if self.review.reviewed or self.best is None:
            return  # a person chooses the winner (refine), or nothing was trained
        every = [rec for rnd in self.rounds for rec in rnd["candidates"]]
        self.reevaluation = Reevaluation(self.parts, self.in_workers).run(every)
        if self.reevaluation is None:
            return
        at = tuple(self.reevaluation["winner"])
        row = next(c for c in self.reevaluation["candidates"] if (c["round"], c["index"]) == at)
        if self.best.at != at:
            self.set_best(next(rec for rec in every if rec.at == at), score=row["mean"],
                          by="re-evaluation")
        self.store.journal({"event": "winner", "round": at[0], "index": at[1],
                            "mean": row["mean"], "success_rate": row["success_rate"]})

    def _failed(self, exc: Exception) -> WorkFailed:
        """Record a failure inside the run; the error to raise for it."""
        import traceback

        what = f"{type(exc).__name__}: {exc}"
        self.failure = {"error": what, "round": len(self.rounds)}
        self.store.write_text(Path("error.txt"), "".join(traceback.format_exception(exc)))
        self.store.journal({"event": "failed", **self.failure})
        try:
            self.write_summary("failed")
        except Exception:  # noqa: S110 (the error itself is what must reach the user)
            pass
        if isinstance(exc, WorkFailed) and not isinstance(exc, UsageError):
            return exc
        return WorkFailed(f"the run failed in round {self.failure['round']}: {what}; finished "
                          f"work is kept (traceback in {self.store.root / 'error.txt'}); "
                          f"`text2reward resume {self.store.root}` continues it")

    def write_summary(self, status: str) -> dict[str, Any]:
        return write_summary(self, status)

