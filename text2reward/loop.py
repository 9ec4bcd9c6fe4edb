"""The rounds: design -> static critic -> runtime critic (with repairs) -> training -> analysis.

Reads top to bottom as the loop of DESIGN.md. Candidates of a round go through their own
pipeline concurrently, ``workers`` at a time, each untrusted step in a sandboxed worker.
Selection uses the task's ground-truth score, never a candidate's own reward.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from text2reward.analysis.reflection import findings, reflect, selection_key
from text2reward.critic.sandbox import layers
from text2reward.critic.static import check_source
from text2reward.designer import Candidate, DesignContext, Designer, Exchange, Feedback
from text2reward.envs.spec import EnvSpec, Task
from text2reward.errors import WorkFailed
from text2reward.program import code_hash
from text2reward.store import RunStore
from text2reward.resume import Restored
from text2reward.training.executor import kill_all, run_job
from text2reward.training.job import Job

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
                 observe: Observer = lambda e: None):
        self.config = config
        self.setup = setup
        self.designer = designer
        self.store = store
        self.observe = observe
        self.rounds: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0, "requests": 0}
        self.seen: dict[str, dict[str, Any]] = {}  # code hash -> result, to skip duplicates
        self._lock = threading.Lock()
        self.started = time.time()
        self.stopping = False  # set on interruption: unfinished candidates are not recorded

    # -- the rounds ---------------------------------------------------------------------------
    def run(self, restored: Restored | None = None) -> dict[str, Any]:
        """Run every round; with ``restored`` (from resume), finished work is reused, not redone."""
        restored = restored or Restored()
        self._adopt(restored)
        feedback: Feedback | None = self._feedback()
        for r in range(self.config.rounds):
            ctx = DesignContext(self.setup.spec, self.config.task, self.setup.task, r, feedback,
                                self.config.seed)
            self.observe({"event": "round", "round": r, "rounds": self.config.rounds})
            candidates = restored.proposals.get(r) or self._propose(ctx)
            done = restored.records.get(r, {})
            records = self._evaluate_round(ctx, candidates, done)
            self.rounds.append({"round": r, "candidates": records})
            self._write_summary("running")
            feedback = self._feedback() or feedback
        status = "finished" if self.best else "failed"
        summary = self._write_summary(status)
        if self.best is None:
            raise WorkFailed(f"no candidate could be trained; see {self.store.root / 'summary.json'}")
        return summary

    def _adopt(self, restored: Restored) -> None:
        """Take over the finished work of an earlier, interrupted process."""
        self.usage.update(restored.usage)
        for r, records in sorted(restored.records.items()):
            for record in records.values():
                result = record["_result"]
                if record.get("code_hash") and not record.get("duplicate_of"):
                    self.seen.setdefault(record["code_hash"], result)
                if result.get("status") == "trained" and not record.get("duplicate_of") and (
                    self.best is None or selection_key(result) > selection_key(self.best["_result"])
                ):
                    self.best = {"round": r, **record}
        remember = getattr(self.designer, "remember", None)
        for candidates in restored.proposals.values():
            for cand in candidates:
                if remember:
                    remember(cand)

    def _propose(self, ctx: DesignContext) -> list[Candidate]:
        for attempt in range(PROPOSAL_RETRIES + 1):
            candidates, exchanges = self.designer.propose(ctx, self.config.samples)
            self._record_exchanges(ctx.round, exchanges)
            if any(c.source for c in candidates):
                break
            self.store.journal({"event": "round_failed", "round": ctx.round, "attempt": attempt,
                                "errors": [c.error for c in candidates]})
        self.store.journal({"event": "proposed", "round": ctx.round,
                            "candidates": [asdict(c) for c in candidates]})
        return candidates

    def _evaluate_round(self, ctx: DesignContext, candidates: list[Candidate],
                        done: dict[int, dict[str, Any]]) -> list[dict]:
        pool = ThreadPoolExecutor(max_workers=self.config.workers)
        futures = {i: pool.submit(self._pipeline, ctx, i, c)
                   for i, c in enumerate(candidates) if i not in done}
        try:
            fresh = {i: f.result() for i, f in futures.items()}
        except BaseException:  # Ctrl-C or SIGTERM: stop workers, record nothing half-done
            self.stopping = True
            kill_all()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return [done[i] if i in done else fresh[i] for i in range(len(candidates))]

    # -- one candidate ------------------------------------------------------------------------
    def _pipeline(self, ctx: DesignContext, index: int, cand: Candidate) -> dict[str, Any]:
        folder = self.store.candidate_dir(ctx.round, index)
        record: dict[str, Any] = {"index": index, "origin": cand.origin, "params": cand.params,
                                  "attempts": []}
        if cand.reply is not None:
            self.store.write_text(folder.relative_to(self.store.root) / "reply.md", cand.reply)
        cand = self._criticise(ctx, index, cand, record)
        if cand is None:
            return self._finish(ctx.round, index, record, {"status": "rejected"})
        record["code_hash"] = code_hash(cand.source)
        with self._lock:
            duplicate = self.seen.get(record["code_hash"])
        if duplicate is not None:
            return self._finish(ctx.round, index, record, {**duplicate, "duplicate_of": duplicate["at"]})
        self._status(ctx.round, index, "training")
        job = self._job("train", folder, None)
        result = run_job(job, lambda e: self.observe({**e, "round": ctx.round, "index": index}))
        result["at"] = [ctx.round, index]
        with self._lock:
            self.seen.setdefault(record["code_hash"], result)
        record["source"] = cand.source
        return self._finish(ctx.round, index, record, result)

    def _criticise(self, ctx: DesignContext, index: int, cand: Candidate, record: dict) -> Candidate | None:
        """Static then runtime critic; rejected programs get up to ``repairs`` repair attempts."""
        folder = self.store.candidate_dir(ctx.round, index)
        rel = folder.relative_to(self.store.root)
        for attempt in range(self.config.repairs + 1):
            self._status(ctx.round, index, "checking" if attempt == 0 else f"repair {attempt}")
            verdict = self._verdict(cand, folder, f"attempt{attempt}.py")
            record["attempts"].append(verdict)
            self.store.journal({"event": "critic", "round": ctx.round, "index": index,
                                "attempt": attempt, **verdict})
            self.store.write_json(rel / "critic.json", record["attempts"])
            if verdict["accepted"]:
                self.store.write_text(rel / "program.py", cand.source)
                return cand
            if attempt == self.config.repairs:
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
        result = run_job(self._job("check", folder, name))
        if result.get("status") == "accepted":
            return {"accepted": True, "stage": "runtime", "warnings": result.get("warnings", []),
                    "ms_per_call": result.get("ms_per_call")}
        error = "\n".join(result.get("findings", [])) or result.get("reason", "unknown failure")
        return {"accepted": False, "stage": "runtime", "error": error}

    def _job(self, kind: str, folder, program: str | None) -> Job:
        c = self.config
        return Job(kind=kind, env_id=c.env, program_path=str(folder / (program or "program.py")),
                   out_dir=str(folder), task=self.setup.task.name if self.setup.task else None,
                   success_path=c.success, timesteps=c.timesteps, seed=c.seed, device=c.device,
                   timeout_s=c.train_timeout_s if kind == "train" else 60.0)

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
            duplicate_of=result.get("duplicate_of"),
        )
        record["_result"] = result
        self.store.journal({"event": "candidate", "round": r,
                            **{k: v for k, v in record.items() if k not in ("_result", "source")}})
        self._status(r, index, record["status"], score=record["score"])
        with self._lock:
            if result.get("status") == "trained" and not result.get("duplicate_of") and (
                self.best is None or selection_key(result) > selection_key(self.best["_result"])
            ):
                self.best = {"round": r, **record}
                folder = self.store.candidate_dir(r, index)
                self.store.save_best(record["source"], folder / "policy.zip")
                self.observe({"event": "best", "round": r, "index": index, "score": record["score"]})
        return record

    # -- between rounds -----------------------------------------------------------------------
    def _feedback(self) -> Feedback | None:
        if self.best is None:
            return None
        result = self.best["_result"]
        return Feedback(source=self.best["source"], reflection=reflect(result),
                        findings=findings(result), params=self.best.get("params"))

    def _record_exchanges(self, r: int, exchanges: list[Exchange], index: int | None = None) -> None:
        for ex in exchanges:
            with self._lock:
                self.usage["requests"] += 1
                for key in ("prompt_tokens", "completion_tokens", "cost_usd"):
                    self.usage[key] += ex.usage.get(key) or 0
            self.store.journal({"event": "llm", "round": r, "index": index, **asdict(ex)})

    def _status(self, r: int, index: int, status: str, **extra: Any) -> None:
        self.observe({"event": "status", "round": r, "index": index, "status": status, **extra})

    def _write_summary(self, status: str) -> dict[str, Any]:
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
            "rounds": [{"round": r["round"], "candidates": [public(c) for c in r["candidates"]]}
                       for r in self.rounds],
            "best": public(self.best) if self.best else None,
            "usage": dict(self.usage),
            "wall_time_s": time.time() - self.started,
        }
        self.store.write_json("summary.json", summary)
        return summary
