"""The rounds: design -> static critic -> runtime critic (with repairs) -> training -> analysis.

Reads top to bottom as the loop of DESIGN.md. Candidates of a round go through their own
pipeline concurrently, ``workers`` at a time, each untrusted step in a sandboxed worker.
Selection uses the task's ground-truth score, never a candidate's own reward.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from text2reward.analysis.reflection import findings, reflect, selection_key
from text2reward.analysis.screening import Screening
from text2reward.critic.sandbox import layers
from text2reward.critic.static import check_source
from text2reward.designer import Candidate, DesignContext, Designer, Exchange, Feedback
from text2reward.envs.spec import EnvSpec, Task
from text2reward.errors import UsageError, WorkFailed
from text2reward.program import code_hash
from text2reward.refine import Reviewer, SessionLeft, human_words, review_of
from text2reward.resume import Restored, read_journal
from text2reward.store import RunStore
from text2reward.training.executor import kill_all, run_job
from text2reward.training.job import Job
from text2reward.training.scheduler import RungSchedule, SuccessiveHalving

Observer = Callable[[dict[str, Any]], None]
PROPOSAL_RETRIES = 2


@dataclass
class Setup:
    """What the loop needs besides the config: resolved env, task and score."""

    spec: EnvSpec
    task: Task | None
    score_kind: str
    metric: str
    threshold: float | None


class Loop:
    """One run of the agent loop over a run folder."""

    def __init__(self, config, setup: Setup, designer: Designer, store: RunStore,
                 observe: Observer = lambda e: None, reviewer: Reviewer | None = None):
        self.config = config
        self.setup = setup
        self.designer = designer
        self.store = store
        self.observe = observe
        self.rounds: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self.usage = _zero_usage()
        self.round_usage: dict[int, dict[str, Any]] = {}  # LLM usage per round
        self.stop_reason: str | None = None  # set when --budget-usd / --max-total-tokens is reached
        self.round_bests: list[Feedback | None] = []  # each round's own best, for --history
        self._analyses: dict[str, str] = {}  # code hash -> the LLM's analysis (--llm-analysis)
        attach = getattr(designer, "attach", None)
        if attach:
            attach(store.root)  # the LLM designer records requests into llm/requests.jsonl
        self.seen: dict[str, dict[str, Any]] = {}  # code hash -> result, to skip duplicates
        self.seen_signatures: dict[str, dict[str, Any]] = {}  # same, for rewards that are a
        # positive multiple of a trained one on the critic's shared transitions
        self._lock = threading.Lock()
        self._summary_lock = threading.Lock()
        self.started = time.time()
        self.stopping = False  # set on interruption: unfinished candidates are not recorded
        # Set by the command line's Ctrl-C and SIGTERM handler, and checked where this thread
        # waits: the KeyboardInterrupt the handler raises can be lost (Python drops exceptions
        # raised inside a destructor that happens to run when the signal arrives).
        self.interrupted = threading.Event()
        self.halving = SuccessiveHalving(threshold=setup.threshold) if config.early_stop else None
        self.schedule: RungSchedule | None = None  # decisions at fixed steps (local workers)
        self.stopped: str | None = None  # why the search ended before its last round
        self.screening = (Screening(setup.spec, setup.task, setup.threshold, store.root,
                                    setup.spec.env_kwargs(setup.task,
                                                          getattr(config, "env_kwargs", None)))
                          if setup.threshold is not None and config.prescreen else None)
        self.reviewer = reviewer  # a person deciding between rounds (refine, run --interactive)
        self.decisions: dict[int, dict[str, Any]] = {}  # round -> journaled "human" event
        self.review_from: int | None = None  # first round a person reviews; None: nobody does
        self._restored = Restored()
        self._pool_path: str | None = None  # this round's frozen episodes, for the pre-screen
        self._warm: tuple[list[int], str] | None = None  # this round's warm start: (at, policy)
        self.run_job = _executor(config)  # run_job(job, on_event) -> result: local or Ray
        self._running: dict[tuple[int, int], Path] = {}  # trainings in flight -> their folders
        self.solved_by: tuple[int, int] | None = None  # the first candidate meeting the target
        self.failure: dict[str, Any] | None = None  # what failed inside the run, if anything
        self._partial: dict[str, Any] | None = None  # the round in progress: index -> record
        self.reevaluation: dict[str, Any] | None = None  # the top candidates over seeds

    # -- the rounds ---------------------------------------------------------------------------
    def run(self, restored: Restored | None = None) -> dict[str, Any]:
        """Run every round; with ``restored`` (from resume), finished work is reused, not redone.

        A failure inside the tool (any exception but an interruption) is recorded: the
        traceback in ``error.txt``, the journal, and a summary that says what failed; it is
        raised as ``WorkFailed`` (never as bad input), and ``resume`` continues the run."""
        try:
            summary = self._rounds(restored)
        except SessionLeft:
            raise  # the person left the review: not a failure, the command says so
        except Exception as exc:
            raise self._failed(exc) from exc
        if self.best is None:
            raise WorkFailed(f"no candidate could be trained: {self._why_none()}; "
                             f"see {self.store.root / 'summary.json'}")
        return summary

    def _why_none(self) -> str:
        """Why no candidate was trained: how each one ended, and the last finding."""
        ends: dict[str, int] = {}
        last = None
        for rnd in self.rounds:
            for rec in rnd["candidates"]:
                attempts = rec.get("attempts") or []
                failed = next((a for a in reversed(attempts) if not a.get("accepted")), None)
                if rec.get("status") == "rejected" and failed is not None:
                    what = f"rejected at the {failed.get('stage', '?')} stage"
                    last = failed.get("error") or last
                else:
                    what = str(rec.get("status") or "not finished")
                    last = rec.get("reason") or last
                ends[what] = ends.get(what, 0) + 1
        if not ends:
            return "no round produced a candidate"
        counts = ", ".join(f"{n} {what}" for what, n in sorted(ends.items()))
        first = (last or "").strip().splitlines()[0][:300] if last else ""
        return counts + (f"; the last reason: {first}" if first else "")

    def _failed(self, exc: Exception) -> WorkFailed:
        """Record a failure inside the run; the error to raise for it."""
        import traceback

        what = f"{type(exc).__name__}: {exc}"
        self.failure = {"error": what, "round": len(self.rounds)}
        self.store.write_text(Path("error.txt"), "".join(traceback.format_exception(exc)))
        self.store.journal({"event": "failed", **self.failure})
        try:
            self._write_summary("failed")
        except Exception:  # noqa: S110 (the error itself is what must reach the user)
            pass
        if isinstance(exc, WorkFailed) and not isinstance(exc, UsageError):
            return exc
        return WorkFailed(f"the run failed in round {self.failure['round']}: {what}; finished "
                          f"work is kept (traceback in {self.store.root / 'error.txt'}); "
                          f"`text2reward resume {self.store.root}` continues it")

    def _rounds(self, restored: Restored | None) -> dict[str, Any]:
        restored = restored or Restored()
        self._adopt(restored)
        self.schedule = self._schedule()
        feedback: Feedback | None = self._feedback()
        for r in range(self.config.rounds):
            if self.interrupted.is_set():
                raise KeyboardInterrupt
            if self._budget_reached():
                break  # stop cleanly: every finished round is kept, the best so far wins
            ctx = DesignContext(self.setup.spec, self.config.task, self.setup.task, r, feedback,
                                self.config.seed, self._history(feedback))
            self.observe({"event": "round", "round": r, "rounds": self.config.rounds})
            if r not in restored.proposals:
                self._journal_feedback(r, feedback)
            candidates = restored.proposals.get(r) or self._propose(ctx)
            done = restored.records.get(r, {})
            self._partial = {"round": r, "candidates": dict(done)}
            self._open_round(r, done)
            self._pool_path = self.screening.freeze(r) if self.screening else None
            self._warm = self._warm_start()
            records = self._evaluate_round(ctx, candidates, done)
            self.rounds.append({"round": r, "candidates": records})
            self._partial = None
            self.round_bests.append(_round_best(records))
            self._write_summary("running")
            human = self._review(r, records)
            feedback = self._feedback() or feedback
            if human is not None and human["action"] == "accept":
                self.stopped = f"accepted by a person after round {r}"
                self.observe({"event": "accepted", "round": r})
                break
            if self.config.stop_on_success and self.review_from is None and self._solved() \
                    and r + 1 < self.config.rounds:
                self.stopped = f"solved in round {r}: every evaluation episode of the best succeeds"
                self.observe({"event": "solved", "round": r})
                break
            if r + 1 < self.config.rounds:
                feedback = self._analysed(ctx, feedback)
                words = human_words(human)
                if feedback is not None and words:
                    feedback = replace(feedback, human=words)
        self._reevaluate()
        status = "finished" if self.best else "failed"
        return self._write_summary(status)

    # -- the evidence step: the top candidates over seeds --------------------------------------
    def _reevaluate(self) -> None:
        """Train the top candidates with further seeds (the search's own training counting as
        one) and name the winner on the mean, as Eureka retrains its final reward. Results are
        journaled one by one, so a resumed run redoes none of them."""
        seeds, top = self.config.reeval_seeds, self.config.reeval_top
        if seeds <= 1 or self.best is None or self.review_from is not None:
            return  # off, nothing trained, or a person chooses the winner (refine)
        ranked = sorted(({**rec, "round": rnd["round"]} for rnd in self.rounds
                         for rec in rnd["candidates"] if _beats(rec, None)),
                        key=lambda rec: selection_key(rec["_result"]), reverse=True)[:top]
        done = {(e["round"], e["index"], e["seed"]): e for e in read_journal(self.store.root)
                if e.get("event") == "reeval"}
        todo = [(rec, self.config.seed + k) for rec in ranked for k in range(1, seeds)
                if (rec["round"], rec["index"], self.config.seed + k) not in done]
        self.observe({"event": "reeval", "candidates": len(ranked), "trainings": len(todo)})
        for event in self._in_workers([(self._reeval_one, (rec, seed)) for rec, seed in todo]):
            done[(event["round"], event["index"], event["seed"])] = event
        self._name_winner(ranked, done)

    def _reeval_one(self, record: dict[str, Any], seed: int) -> dict[str, Any]:
        r, index = record["round"], record["index"]
        folder = self.store.candidate_dir(r, index)
        job = self._job("train", folder / f"seed{seed}", None)
        job.program_path, job.seed = str(folder / "program.py"), seed
        job.stop_when_solved = self.config.early_stop  # the protocol of the search's own run
        result = self.run_job(job)
        final = result.get("eval") or {}
        event = {"event": "reeval", "round": r, "index": index, "seed": seed,
                 "status": result.get("status"), "score": final.get("score"),
                 "success_rate": final.get("success_rate"), "steps": result.get("steps"),
                 "wall_time_s": result.get("wall_time_s"), "reason": result.get("reason")}
        if not self.stopping:
            self.store.journal(event)
        return event

    def _name_winner(self, ranked: list[dict[str, Any]], done: dict[tuple, dict]) -> None:
        """Per-seed scores, mean, spread and success rate of each re-evaluated candidate; the
        best mean (success rate first, then score) is the run's winner."""
        rows, costs = [], list(done.values())
        for rec in ranked:
            r = rec["round"]
            final = rec["_result"]["eval"]
            runs = [{"seed": self.config.seed, "score": final.get("score"),
                     "success_rate": final.get("success_rate")}]
            runs += [{"seed": e["seed"], "score": e["score"], "success_rate": e["success_rate"]}
                     for (rr, i, _), e in sorted(done.items())
                     if (rr, i) == (r, rec["index"]) and e["status"] == "trained"]
            scores = [x["score"] for x in runs if x["score"] is not None]
            rates = [x["success_rate"] for x in runs if x["success_rate"] is not None]
            rows.append({"round": r, "index": rec["index"], "runs": runs,
                         "mean": float(np.mean(scores)), "std": float(np.std(scores)),
                         "success_rate": float(np.mean(rates)) if rates else None})
        winner = max(rows, key=lambda row: (row["success_rate"] if row["success_rate"]
                                            is not None else 0.0, row["mean"]))
        self.reevaluation = {
            "seeds": self.config.reeval_seeds, "top": self.config.reeval_top,
            "candidates": rows, "winner": [winner["round"], winner["index"]],
            "env_steps": sum(e.get("steps") or 0 for e in costs),
            "wall_time_s": sum(e.get("wall_time_s") or 0.0 for e in costs)}
        at = (winner["round"], winner["index"])
        if (self.best["round"], self.best["index"]) != at:
            record = next(rec for rec in ranked if (rec["round"], rec["index"]) == at)
            self.best = record
            folder = self.store.candidate_dir(*at)
            self.store.save_best(record["source"], folder / "policy.zip")
            self.observe({"event": "best", "round": at[0], "index": at[1],
                          "score": winner["mean"], "by": "re-evaluation"})
        self.store.journal({"event": "winner", "round": at[0], "index": at[1],
                            "mean": winner["mean"], "success_rate": winner["success_rate"]})

    def _warm_start(self) -> tuple[list[int], str] | None:
        """--warm-start: the best policy of the rounds before this one, if it succeeded in at
        least one evaluation episode (from the completed rounds only, so a resumed run makes
        the same choice)."""
        if not getattr(self.config, "warm_start", False):
            return None
        best = None
        for rnd in self.rounds:
            for rec in rnd["candidates"]:
                if _beats(rec, best):
                    best = {"round": rnd["round"], **rec}
        if best is None or not (best.get("success_rate") or 0.0) > 0.0:
            return None
        policy = self.store.candidate_dir(best["round"], best["index"]) / "policy.zip"
        return ([best["round"], best["index"]], str(policy)) if policy.exists() else None

    def _solved(self) -> bool:
        final = (self.best or {}).get("_result", {}).get("eval", {})
        return self.setup.threshold is not None and final.get("success_rate") == 1.0

    def _stops_when_solved(self) -> bool:
        """--stop-on-success with a success threshold and nobody reviewing rounds."""
        return bool(self.config.stop_on_success and self.review_from is None
                    and self.setup.threshold is not None)

    def _meets_target(self, record: dict[str, Any]) -> bool:
        """An original trained candidate succeeding in every evaluation episode, in a search
        that stops there."""
        return (self._stops_when_solved() and record.get("success_rate") == 1.0
                and record.get("status") == "trained" and not record.get("duplicate_of"))

    def _cut_round(self, r: int, index: int, record: dict[str, Any]) -> None:
        """A candidate met the target in every evaluation episode: with --stop-on-success the
        search is over, so the round's trainings in flight stop now (each is still evaluated and
        recorded) and its candidates not started yet are skipped."""
        if not self._meets_target(record):
            return
        with self._lock:
            if self.solved_by is not None:
                return
            self.solved_by = (r, index)
            running = list(self._running.values())
        self.store.journal({"event": "target_met", "round": r, "index": index})
        if self.schedule is not None:
            return  # the others stop at their next pause (RungSchedule)
        for folder in running:
            (folder / "stop").write_text(f"another candidate solved the task (r{r} c{index})")

    def _schedule(self) -> RungSchedule | None:
        """Halving and stop-on-success decided at fixed fractions of each training, in
        candidate order (deterministic for a seed); None where trainings cannot pause for a
        decision (Ray: its trainings are stopped asynchronously) or nothing is to decide."""
        solved = self._stops_when_solved()
        if getattr(self.config, "executor", "local") == "ray" or not (
                self.config.early_stop or solved):
            return None
        return RungSchedule(threshold=self.setup.threshold, halving=self.config.early_stop,
                            stop_on_success=solved)

    def _open_round(self, r: int, done: dict[int, dict[str, Any]]) -> None:
        """Tell the schedule a round begins, with the candidates an earlier process finished."""
        if self.schedule is None:
            return
        self.schedule.open_round(r)
        for index, record in done.items():
            self._ended(r, index, record.get("_result") or {}, record)

    def _ended(self, r: int, index: int, result: dict[str, Any], record: dict[str, Any]) -> None:
        """A candidate is done (trained, or never trained): release the decisions waiting on it."""
        if self.schedule is None:
            return
        budget = result.get("budget") or 0
        fraction = min((result.get("steps") or 0) / budget, 1.0) if budget else 0.0
        met = self._meets_target({**record, "status": result.get("status"),
                                  "success_rate": (result.get("eval") or {}).get("success_rate"),
                                  "duplicate_of": result.get("duplicate_of")})
        scores = {p["pause"]: p["score"] for p in result.get("pauses") or ()}
        self._decide(self.schedule.end((r, index), fraction, met, scores))

    def _decide(self, decisions: list[tuple[tuple[int, int], float, str]]) -> None:
        """Write each ready decision where its paused training waits for it."""
        for (r, index), pause, decision in decisions:
            folder = self.store.candidate_dir(r, index)
            self.store.write_text(folder.relative_to(self.store.root) / f"decision-{pause:.2f}",
                                  decision)
            if decision != "go":
                self.store.journal({"event": "stop_decision", "round": r, "index": index,
                                    "pause": pause, "reason": decision})

    def _skipped(self, r: int, index: int, record: dict[str, Any]) -> dict[str, Any] | None:
        if self.solved_by is None or self.schedule is not None:
            return None
        sr, si = self.solved_by
        return self._finish(r, index, record, {"status": "skipped",
                                               "reason": f"target met by r{sr} c{si}"})

    def _adopt(self, restored: Restored) -> None:
        """Take over the finished work of an earlier, interrupted process."""
        self._restored = restored
        self.decisions = dict(restored.decisions)
        starts = [s.get("from_round", 0) for s in restored.sessions]
        self.review_from = min(starts) if starts else (0 if self.reviewer else None)
        self.usage.update(restored.usage)
        if restored.proposals:  # per-round usage and request counts, from the same journal
            self.usage = _zero_usage()
            for event in read_journal(self.store.root):
                if event.get("event") == "llm":
                    self._count_usage(event.get("round"), event.get("usage") or {})
        for r, records in sorted(restored.records.items()):
            for record in records.values():
                result = record["_result"]
                result.setdefault("at", [r, record["index"]])
                if record.get("code_hash") and not record.get("duplicate_of"):
                    self._remember(record, result)
                if result.get("status") == "trained" and not record.get("duplicate_of"):
                    self._add_to_pool(r, record["index"])
                if _beats(record, self.best):
                    self.best = {"round": r, **record}
                if self.solved_by is None and self._meets_target(record):
                    self.solved_by = (r, record["index"])
        remember = getattr(self.designer, "remember", None)
        for candidates in restored.proposals.values():
            for cand in candidates:
                if remember:
                    remember(cand)

    def _propose(self, ctx: DesignContext) -> list[Candidate]:
        for attempt in range(PROPOSAL_RETRIES + 1):
            if attempt and self._budget_reached():
                break  # the failed samples stay the round's candidates
            candidates, exchanges = self.designer.propose(ctx, self.config.samples)
            self._record_exchanges(ctx.round, exchanges)
            if any(c.source or c.reply for c in candidates):
                break  # replies without a program are answered with why, in _criticise
            self.store.journal({"event": "round_failed", "round": ctx.round, "attempt": attempt,
                                "errors": [c.error for c in candidates]})
        self.store.journal({"event": "proposed", "round": ctx.round,
                            "candidates": [asdict(c) for c in candidates]})
        return candidates

    def _evaluate_round(self, ctx: DesignContext, candidates: list[Candidate],
                        done: dict[int, dict[str, Any]]) -> list[dict]:
        todo = [i for i in range(len(candidates)) if i not in done]
        records = self._in_workers([(self._pipeline, (ctx, i, candidates[i])) for i in todo])
        fresh = dict(zip(todo, records, strict=True))
        return [done[i] if i in done else fresh[i] for i in range(len(candidates))]

    def _in_workers(self, calls: list[tuple[Callable[..., Any], tuple]]) -> list[Any]:
        """Run ``calls`` (function, args) ``workers`` at a time; their results in order. Ctrl-C,
        SIGTERM or a failure stop every worker and record nothing half-done."""
        pool = ThreadPoolExecutor(max_workers=self.config.workers)
        futures = [pool.submit(fn, *args) for fn, args in calls]
        try:
            pending = set(futures)
            while pending:
                if self.interrupted.is_set():
                    raise KeyboardInterrupt
                pending = wait(pending, timeout=0.5).not_done
            results = [f.result() for f in futures]
        except BaseException:
            self.stopping = True
            getattr(self.run_job, "kill_all", kill_all)()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return results

    # -- one candidate ------------------------------------------------------------------------
    def _pipeline(self, ctx: DesignContext, index: int, cand: Candidate) -> dict[str, Any]:
        record: dict[str, Any] = {}
        try:
            record = self._candidate(ctx, index, cand)
            return record
        finally:  # every path (rejected, duplicate, failed, crashed) releases later candidates
            if not self.stopping:
                self._ended(ctx.round, index, record.get("_result") or {}, record)

    def _candidate(self, ctx: DesignContext, index: int, cand: Candidate) -> dict[str, Any]:
        folder = self.store.candidate_dir(ctx.round, index)
        record: dict[str, Any] = {"index": index, "origin": cand.origin, "params": cand.params,
                                  "attempts": []}
        if (skipped := self._skipped(ctx.round, index, record)) is not None:
            return skipped
        if cand.reply is not None:
            self.store.write_text(folder.relative_to(self.store.root) / "reply.md", cand.reply)
        cand = self._criticise(ctx, index, cand, record)
        if cand is None:
            return self._finish(ctx.round, index, record, {"status": "rejected"})
        record.update(origin=cand.origin, params=cand.params)  # a repair may have replaced it
        record["code_hash"] = code_hash(cand.source)
        critique = record.get("critique") or {}
        revised = critique.get("kept") == "revised"
        checked = critique["verdict"] if revised else record["attempts"][-1]
        record["signature"] = checked.get("signature")
        with self._lock:
            duplicate = self.seen.get(record["code_hash"])
            multiple = self.seen_signatures.get(record["signature"] or "")
        if duplicate is not None:
            return self._finish(ctx.round, index, record,
                                {**duplicate, "duplicate_of": duplicate["at"]})
        if multiple is not None:
            r0, i0 = multiple["at"]
            return self._finish(ctx.round, index, record, {
                **multiple, "duplicate_of": multiple["at"],
                "reason": f"a positive multiple of r{r0} c{i0} on the critic's shared "
                          "transitions (same optimal policies); its result is reused"})
        with self._lock:
            skip = self.solved_by is not None and self.schedule is None
            if not skip:
                self._running[(ctx.round, index)] = folder
        if skip:
            return self._skipped(ctx.round, index, record)
        self._status(ctx.round, index, "training")
        job = self._job("train", folder, None)
        job.stop_when_solved = self.config.early_stop
        job.pause_at = list(self.schedule.pauses) if self.schedule is not None else []
        if self._warm is not None:
            record["warm_start_from"], job.init_policy = self._warm
        try:
            result = self.run_job(job, lambda e: self._progress(ctx.round, index, folder, e))
        finally:
            with self._lock:
                self._running.pop((ctx.round, index), None)
        result["at"] = [ctx.round, index]
        with self._lock:
            self._remember(record, result)
        record["source"] = cand.source
        return self._finish(ctx.round, index, record, result)

    def _remember(self, record: dict[str, Any], result: dict[str, Any]) -> None:
        """Note an original candidate's result, for later duplicates to reuse: by code, and
        (trained ones) by reward signature."""
        self.seen.setdefault(record["code_hash"], result)
        if record.get("signature") and result.get("status") == "trained":
            self.seen_signatures.setdefault(record["signature"], result)

    def _progress(self, r: int, index: int, folder, event: dict[str, Any]) -> None:
        self.observe({**event, "round": r, "index": index})
        if event.get("event") == "pause" and self.schedule is not None:
            self._decide(self.schedule.report((r, index), event["pause"], event.get("score")))
        elif event.get("event") == "progress" and self.halving is not None \
                and self.schedule is None:
            if self.halving.report((r, index), event["step"], event["total"], event.get("score")):
                (folder / "stop").write_text("behind its peers (successive halving)")

    def _criticise(self, ctx: DesignContext, index: int, cand: Candidate,
                   record: dict) -> Candidate | None:
        """Static then runtime critic; rejected programs get up to ``repairs`` repair attempts."""
        folder = self.store.candidate_dir(ctx.round, index)
        rel = folder.relative_to(self.store.root)
        for attempt in range(self.config.repairs + 1):
            self._status(ctx.round, index, "checking" if attempt == 0 else f"repair {attempt}")
            verdict = (_repeated(cand, record["attempts"])
                       or self._verdict(cand, folder, f"attempt{attempt}.py"))
            if cand.source is not None:
                verdict.setdefault("code_hash", code_hash(cand.source))
            if cand.extraction:  # which block of the reply was taken, why, what was adapted
                verdict["extraction"] = cand.extraction
            record["attempts"].append(verdict)
            self.store.journal({"event": "critic", "round": ctx.round, "index": index,
                                "attempt": attempt, **verdict})
            self.store.write_json(rel / "critic.json", record["attempts"])
            if verdict["accepted"]:
                cand = self._self_critique(ctx, index, cand, record)
                self.store.write_text(rel / "program.py", cand.source)
                return cand
            if attempt == self.config.repairs or self._budget_reached():
                return None
            cand, exchanges = self.designer.repair(ctx, cand, verdict["error"])
            self._record_exchanges(ctx.round, exchanges, index)
        return None

    def _verdict(self, cand: Candidate, folder, name: str) -> dict[str, Any]:
        if cand.source is None:
            return {"accepted": False, "stage": "extract", "error": cand.error or "no code"}
        self.store.write_text(folder.relative_to(self.store.root) / name, cand.source)
        static = check_source(cand.source, "<reward>")
        if static:
            return {"accepted": False, "stage": "static",
                    "error": "\n".join(str(f) for f in static)}
        job = self._job("check", folder, name)
        job.pool_path = self._pool_path
        result = self.run_job(job)
        if result.get("status") == "accepted":
            verdict = {"accepted": True, "stage": "runtime", "warnings": result.get("warnings", []),
                       "ms_per_call": result.get("ms_per_call"),
                       "signature": result.get("signature")}
            if "pool_returns" in result and self._pool_path:
                verdict.update(self.screening.judge(result["pool_returns"]))
            return verdict
        error = "\n".join(result.get("findings", [])) or result.get("reason", "unknown failure")
        return {"accepted": False, "stage": "runtime", "error": error}

    def _job(self, kind: str, folder, program: str | None) -> Job:
        c = self.config
        return Job(kind=kind, env_id=c.env, program_path=str(folder / (program or "program.py")),
                   out_dir=str(folder), task=self.setup.task.name if self.setup.task else None,
                   success_path=c.success, timesteps=c.timesteps, seed=c.seed, device=c.device,
                   timeout_s=c.train_timeout_s if kind == "train" else 60.0,
                   env_kwargs=dict(getattr(c, "env_kwargs", None) or {}))

    def _finish(self, r: int, index: int, record: dict, result: dict) -> dict[str, Any]:
        if self.stopping:
            return record  # interrupted mid-candidate: resume redoes it from the start
        final = result.get("eval", {})
        record.update(
            status=result.get("status"), reason=result.get("reason"),
            score=final.get("score"), success_rate=final.get("success_rate"),
            success=None if self.setup.threshold is None or final.get("score") is None
            else final["score"] >= self.setup.threshold,
            env_return=final.get("env_return"), steps=result.get("steps"),
            steps_per_s=result.get("steps_per_s"), wall_time_s=result.get("wall_time_s"),
            duplicate_of=result.get("duplicate_of"), stopped_early=result.get("stopped_early"),
        )
        record["_result"] = result
        self.store.journal({"event": "candidate", "round": r,
                            **{k: v for k, v in record.items() if k not in ("_result", "source")}})
        self._status(r, index, record["status"], score=record["score"], steps=record["steps"],
                     stopped=record["stopped_early"])
        if result.get("status") == "trained" and not result.get("duplicate_of"):
            self._add_to_pool(r, index)
        with self._lock:
            if _beats(record, self.best):
                self.best = {"round": r, **record}
                folder = self.store.candidate_dir(r, index)
                self.store.save_best(record["source"], folder / "policy.zip")
                self.observe({"event": "best", "round": r, "index": index,
                              "score": record["score"]})
        self._cut_round(r, index, record)
        partial = self._partial
        if partial is not None and partial["round"] == r:  # a summary while the run goes on
            partial["candidates"][index] = record
            self._write_summary("running")
        return record

    def _add_to_pool(self, r: int, index: int) -> None:
        if self.screening is not None:
            self.screening.add(self.store.root / "rounds" / f"r{r:02d}" / f"c{index:02d}")

    # -- between rounds -----------------------------------------------------------------------
    def _review(self, r: int, records: list[dict[str, Any]]) -> dict[str, Any] | None:
        """A person's decision on round ``r``: replayed from the journal, or asked and journaled
        (only at the frontier: never when round r + 1 already began in an earlier process)."""
        decision = self.decisions.get(r)
        asks = self.reviewer is not None and self.review_from is not None \
            and r >= self.review_from and r + 1 not in self._restored.proposals
        if decision is None and asks:
            review = review_of(r, self.config.rounds, self.store.root, records, self.best)
            decision = self.reviewer(review).event(r)
            self.store.journal(decision)
            self.decisions[r] = decision
        if decision is not None and decision["action"] == "choose":
            self._prefer(r, decision)
        return decision

    def _prefer(self, r: int, decision: dict[str, Any]) -> None:
        """The preferred rollout's candidate becomes the best, the next round's parent. On a
        replay, rounds after ``r`` that already ran compete with it as they did then."""
        (pr, pi) = decision["chosen"]
        found = [c for rnd in self.rounds if rnd["round"] == pr for c in rnd["candidates"]
                 if c["index"] == pi and (c.get("_result") or {}).get("status") == "trained"]
        if not found:
            return
        best = {"round": pr, **found[0]}
        for later, records in sorted(self._restored.records.items()):
            for rec in records.values() if later > r else ():
                if _beats(rec, best):
                    best = {"round": later, **rec}
        at = (best["round"], best["index"])
        if self.best is None or (self.best["round"], self.best["index"]) != at:
            self.best = best
            folder = self.store.candidate_dir(best["round"], best["index"])
            self.store.save_best(best["source"], folder / "policy.zip")
            self.observe({"event": "best", "round": best["round"], "index": best["index"],
                          "score": best.get("score"), "by": "person" if at == (pr, pi) else None})

    def _feedback(self) -> Feedback | None:
        if self.best is None:
            return None
        result = self.best["_result"]
        return Feedback(source=self.best["source"], reflection=reflect(result),
                        findings=findings(result), params=self.best.get("params"))

    def _record_exchanges(self, r: int, exchanges: list[Exchange],
                          index: int | None = None) -> None:
        for ex in exchanges:
            self._count_usage(r, ex.usage)
            self.store.journal({"event": "llm", "round": r, "index": index, **asdict(ex)})

    def _count_usage(self, r: int | None, usage: dict[str, Any]) -> None:
        """Add one exchange's usage to the run's and its round's totals."""
        with self._lock:
            totals = [self.usage]
            if r is not None:
                totals.append(self.round_usage.setdefault(r, _zero_usage()))
            for total in totals:
                _add_usage(total, usage)

    # -- LLM budget, history, self-critique and analysis ------------------------------------
    def _budget_reached(self) -> bool:
        """True once --budget-usd or --max-total-tokens is reached (checked before each new
        LLM request and each new round; work in flight finishes)."""
        c, u = self.config, self.usage
        budget, max_tokens = getattr(c, "budget_usd", None), getattr(c, "max_total_tokens", None)
        with self._lock:
            if self.stop_reason is not None:
                return True
            tokens = u["prompt_tokens"] + u["completion_tokens"]
            if budget is not None and u["cost_usd"] >= budget:
                self.stop_reason = f"budget_usd reached ({u['cost_usd']:.4g} of {budget:g})"
            elif max_tokens is not None and tokens >= max_tokens:
                self.stop_reason = f"max_total_tokens reached ({tokens} of {max_tokens})"
            else:
                return False
        self.stopped = self.stop_reason  # summary.json's "stopped"
        self.store.journal({"event": "stopped", "reason": self.stop_reason})
        self.observe({"event": "stopped", "reason": self.stop_reason})
        return True

    def _history(self, feedback: Feedback | None) -> list[Feedback]:
        """The best programs of earlier rounds (oldest first) besides the best so far, for a
        history length H > 1: at most H - 1 of them."""
        keep = getattr(self.config, "history", 1) - 1
        if feedback is None or keep < 1:
            return []
        earlier, seen = [], {feedback.source}
        for fb in reversed(self.round_bests):
            if fb is not None and fb.source not in seen and len(earlier) < keep:
                earlier.append(fb)
                seen.add(fb.source)
        return earlier[::-1]

    def _self_critique(self, ctx: DesignContext, index: int, cand: Candidate,
                       record: dict) -> Candidate:
        """--llm-critique: the model reviews an accepted program against the task; a revision
        replaces it only if the critics accept the revision too."""
        critique = getattr(self.designer, "critique", None)
        if not (getattr(self.config, "llm_critique", False) and critique) or self._budget_reached():
            return cand
        revised, exchanges = critique(ctx, cand)
        self._record_exchanges(ctx.round, exchanges, index)
        note: dict[str, Any] = {"revised": revised is not None, "kept": "original"}
        if revised is not None:
            verdict = self._verdict(revised, self.store.candidate_dir(ctx.round, index),
                                    "critique.py")
            note["verdict"] = verdict
            if verdict["accepted"]:
                cand, note["kept"] = revised, "revised"
        record["critique"] = note
        self.store.journal({"event": "critique", "round": ctx.round, "index": index, **note})
        return cand

    def _analysed(self, ctx: DesignContext, feedback: Feedback | None) -> Feedback | None:
        """--llm-analysis: append the model's analysis of the best program's training to its
        reflection (one request per new best)."""
        analyse = getattr(self.designer, "analyse", None)
        if feedback is None or not (getattr(self.config, "llm_analysis", False) and analyse):
            return feedback
        key = code_hash(feedback.source)
        if key not in self._analyses:
            if self._budget_reached():
                return feedback
            text, exchanges = analyse(ctx, feedback)
            self._record_exchanges(ctx.round, exchanges)
            self._analyses[key] = text
            self.store.journal({"event": "analysis", "round": ctx.round, "code_hash": key,
                                "text": text})
        text = self._analyses[key]
        if not text:
            return feedback
        return replace(feedback, reflection=f"{feedback.reflection}\n\nAn analysis of this "
                                            f"training (written by a model):\n{text}")

    def _status(self, r: int, index: int, status: str, **extra: Any) -> None:
        self.observe({"event": "status", "round": r, "index": index, "status": status, **extra})

    def _rounds_so_far(self) -> list[dict[str, Any]]:
        """Finished rounds, and the candidates of the round in progress that are done."""
        partial = self._partial
        if partial is None or not partial["candidates"]:
            return list(self.rounds)
        return [*self.rounds, _sorted_partial({**partial,
                                               "candidates": dict(partial["candidates"])})]

    def _journal_feedback(self, r: int, feedback: Feedback | None) -> None:
        """Keep the feedback round ``r`` is designed from, as the designer gets it (every
        designer, the offline one included)."""
        if feedback is None:
            return
        self.store.journal({"event": "feedback", "round": r, "reflection": feedback.reflection,
                            "findings": feedback.findings, "params": feedback.params,
                            "human": feedback.human})

    def _write_summary(self, status: str) -> dict[str, Any]:
        with self._summary_lock:
            return self._summary(status)

    def _summary(self, status: str) -> dict[str, Any]:
        s = self.setup
        public = lambda rec: {k: v for k, v in rec.items() if k not in ("_result", "source")}  # noqa: E731
        summary = {
            "status": status,
            "env": s.spec.env_id,
            "task": self.config.task,
            "task_key": s.task.key if s.task else None,
            "model": self.config.model,
            "success": {"kind": s.score_kind, "metric": s.metric, "threshold": s.threshold},
            "sandbox": layers(),
            "rounds": [{"round": r["round"], "candidates": [public(c) for c in r["candidates"]],
                        "usage": dict(self.round_usage.get(r["round"]) or _zero_usage())}
                       for r in self._rounds_so_far()],
            "best": public(self.best) if self.best else None,
            "usage": dict(self.usage),
            "prescreen": dict(self.screening.counts if self.screening else
                              {"rejections": 0, "trainings_saved": 0}),
            "stopped": self.stopped,
            "failure": self.failure,
            "reevaluation": self.reevaluation,
            "env_steps": sum(c.get("steps") or 0 for r in self._rounds_so_far()
                             for c in r["candidates"] if not c.get("duplicate_of")),
            "wall_time_s": time.time() - self.started,
        }
        self.store.write_json("summary.json", summary)
        return summary


def _sorted_partial(partial: dict[str, Any]) -> dict[str, Any]:
    return {"round": partial["round"],
            "candidates": [c for _, c in sorted(partial["candidates"].items())]}


def _executor(config) -> Callable[..., dict[str, Any]]:
    """The sandboxed-worker launcher of ``config.executor``: this machine's, or Ray tasks."""
    if getattr(config, "executor", "local") == "ray":
        from text2reward.training.ray_executor import RayExecutor

        return RayExecutor()
    return run_job


def _zero_usage() -> dict[str, Any]:
    return {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0, "requests": 0,
            "unpriced_requests": 0, "cached_requests": 0, "replayed_requests": 0}


def _add_usage(total: dict[str, Any], usage: dict[str, Any]) -> None:
    """Add one exchange: served (cached/replayed) ones cost nothing; unpriced ones count 0."""
    total["requests"] += 1
    for key in ("prompt_tokens", "completion_tokens", "cost_usd"):
        total[key] += usage.get(key) or 0
    if usage.get("replayed"):
        total["replayed_requests"] += 1
    elif usage.get("cached"):
        total["cached_requests"] += 1
    elif usage.get("priced") is False:
        total["unpriced_requests"] += 1


def _repeated(cand: Candidate, attempts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The verdict for a program identical to an earlier refused attempt: not checked again,
    its earlier findings repeated to the model with the fact that nothing changed."""
    if cand.source is None:
        return None
    key = code_hash(cand.source)
    for number, earlier in enumerate(attempts):
        if earlier.get("code_hash") == key and not earlier.get("accepted"):
            return {"accepted": False, "stage": "repeat", "same_as_attempt": number,
                    "error": f"this is the same program as attempt {number}, unchanged, so it "
                             f"was not checked again; it still fails with:\n{earlier['error']}"}
    return None


def _beats(record: dict[str, Any], best: dict[str, Any] | None) -> bool:
    """A trained, original candidate that the task's success ranks above ``best``."""
    result = record.get("_result") or {}
    return (result.get("status") == "trained" and not record.get("duplicate_of")
            and (best is None or selection_key(result) > selection_key(best["_result"])))


def _round_best(records: list[dict[str, Any]]) -> Feedback | None:
    """A round's own best trained program with its reflection (for --history)."""
    best = None
    for rec in records:
        if rec.get("source") and _beats(rec, best):
            best = rec
    if best is None:
        return None
    result = best["_result"]
    return Feedback(source=best["source"], reflection=reflect(result), findings=findings(result),
                    params=best.get("params"))
