"""One candidate's story: checked, repaired, deduplicated, trained, recorded.

``CandidatePipeline.run`` reads top to bottom. Its collaborators (the run folder, the stop
state, the seen results, the LLM usage, the sandbox executor) are passed in, and what the
search does with a finished candidate (the best so far, the pre-screen's pool, the summary)
is its ``on_finished`` callback, so this module needs nothing from the search loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from text2reward.analysis.screening import Screening
from text2reward.critic.static import check_source
from text2reward.designer import Candidate, DesignContext, Designer
from text2reward.envs.model import EnvSpec, Task
from text2reward.program import code_hash
from text2reward.runfolder import candidate_files
from text2reward.sandbox import Executor, Job
from text2reward.search.dedupe import Seen
from text2reward.search.records import CandidateRecord, CheckVerdict, TrainingResult
from text2reward.search.stopping import Stopping
from text2reward.search.usage import Usage
from text2reward.store import RunStore
from text2reward.training.experience import FILE as EXPERIENCE_FILE
from text2reward.training.presets import time_limit

Observer = Callable[[dict[str, Any]], None]


@dataclass
class Setup:
    """What the search needs besides the config: resolved env, task and score."""

    spec: EnvSpec
    task: Task | None
    score_kind: str
    metric: str
    threshold: float | None


@dataclass
class RoundInputs:
    """What every candidate of a round shares: the pre-screen's frozen episodes and the
    warm start (``[round, index]`` and policy path of the best earlier policy)."""

    pool_path: str | None = None
    warm: tuple[list[int], str] | None = None


@dataclass
class Collaborators:
    """The parts of a search a candidate's story uses."""

    config: Any  # RunConfig
    setup: Setup
    designer: Designer
    store: RunStore
    stopping: Stopping
    seen: Seen
    usage: Usage
    run_job: Executor
    screening: Screening | None
    observe: Observer


class CandidatePipeline:
    """Takes one proposed candidate through the critics (with repairs) and its training."""

    def __init__(self, parts: Collaborators,
                 on_finished: Callable[[CandidateRecord], None]) -> None:
        self.p = parts
        self.on_finished = on_finished

    def run(self, ctx: DesignContext, index: int, cand: Candidate,
            inputs: RoundInputs) -> CandidateRecord:
        """The candidate's record; every path (rejected, duplicate, failed, crashed) releases
        the decisions waiting on it."""
        record = CandidateRecord(index=index, round=ctx.round, origin=cand.origin,
                                 params=cand.params)
        try:
            return self._story(ctx, record, cand, inputs)
        finally:
            if not self.p.stopping.stopping:
                self.p.stopping.ended(record)

    def _story(self, ctx: DesignContext, record: CandidateRecord, cand: Candidate,
               inputs: RoundInputs) -> CandidateRecord:
        p, folder = self.p, self.p.store.candidate_dir(ctx.round, record.index)
        if (skip := p.stopping.skip_reason()) is not None:
            return self._finish(record, TrainingResult(status="skipped", reason=skip))
        if cand.reply is not None:
            p.store.write_text(folder.relative_to(p.store.root) / "reply.md", cand.reply)
        # 1. the critics, with repairs
        checked = self._criticise(ctx, record, cand, inputs.pool_path)
        if checked is None:
            return self._finish(record, TrainingResult(status="rejected"))
        cand, verdict = checked
        record.origin, record.params = cand.origin, cand.params  # a repair may have replaced it
        record.code_hash, record.signature = code_hash(cand.source), verdict.signature
        # 2. a duplicate of a candidate already trained reuses its result
        if (reused := p.seen.reuse(record)) is not None:
            return self._finish(record, reused)
        # 3. the training, in a sandboxed worker
        if (skip := p.stopping.starting(record.at, folder)) is not None:
            return self._finish(record, TrainingResult(status="skipped", reason=skip))
        try:
            result = self._train(record, folder, inputs)
        finally:
            p.stopping.finished_training(record.at)
        result.at = [ctx.round, record.index]
        p.seen.remember(record, result)
        record.source = cand.source
        return self._finish(record, result)

    def _train(self, record: CandidateRecord, folder: Path,
               inputs: RoundInputs) -> TrainingResult:
        p = self.p
        self._status(record, "training")
        job = job_for(p.config, p.setup, "train", folder)
        job.stop_when_solved = p.config.early_stop
        job.pause_at = p.stopping.pauses
        job.timeout_s *= p.stopping.patience_factor
        if getattr(p.config, "shared_experience", False) \
                and getattr(p.config, "executor", "local") == "local":  # files in the run folder
            job.record_experience = True
            job.shared_experience = shared_experience(p.store.root, record.at,
                                                      p.stopping.bandit)
            if p.stopping.bandit:  # one training at a time: what the others wrote is fixed
                job.experience_dir = str(p.store.root)
        if inputs.warm is not None:
            record.warm_start_from, job.init_policy = inputs.warm

        def progress(event: dict[str, Any]) -> None:
            p.observe({**event, "round": record.round, "index": record.index})
            p.stopping.progress(record.at, folder, event)

        return TrainingResult.from_json(p.run_job(job, progress))

    def _finish(self, record: CandidateRecord, result: TrainingResult) -> CandidateRecord:
        p = self.p
        if p.stopping.stopping:
            return record  # interrupted mid-candidate: resume redoes it from the start
        record.finish(result, p.setup.threshold)
        p.store.journal({"event": "candidate", **record.to_json(with_round=True)})
        self._status(record, record.status, score=record.score, steps=record.steps,
                     stopped=record.stopped_early)
        self.on_finished(record)
        p.stopping.cut_round(record)
        return record

    def _status(self, record: CandidateRecord, status: str | None, **extra: Any) -> None:
        """Tell the live view where the candidate is."""
        self.p.observe({"event": "status", "round": record.round, "index": record.index,
                        "status": status, **extra})

    # -- the critics ---------------------------------------------------------------------------
    def _criticise(self, ctx: DesignContext, record: CandidateRecord, cand: Candidate,
                   pool_path: str | None) -> tuple[Candidate, CheckVerdict] | None:
        """Static then runtime critic; rejected programs get up to ``repairs`` repair attempts.
        The accepted candidate and the verdict that accepted it, or None."""
        p = self.p
        folder = p.store.candidate_dir(ctx.round, record.index)
        rel = folder.relative_to(p.store.root)
        for attempt in range(p.config.repairs + 1):
            if p.stopping.stopping:  # interrupted: its workers were killed, start no other
                return None
            self._status(record, "checking" if attempt == 0 else f"repair {attempt}")
            verdict = (_repeated(cand, record.attempts)
                       or self.verdict(cand, folder, f"attempt{attempt}.py", pool_path))
            if cand.source is not None and verdict.code_hash is None:
                verdict.code_hash = code_hash(cand.source)
            if cand.extraction:  # which block of the reply was taken, why, what was adapted
                verdict.extraction = cand.extraction
            record.attempts.append(verdict)
            p.store.journal({"event": "critic", "round": ctx.round, "index": record.index,
                             "attempt": attempt, **verdict.to_json()})
            p.store.write_json(rel / "critic.json", [a.to_json() for a in record.attempts])
            if verdict.accepted:
                cand, verdict = self._self_critique(ctx, record, cand, verdict, pool_path)
                p.store.write_text(rel / "program.py", cand.source)
                return cand, verdict
            if attempt == p.config.repairs or p.usage.budget_reached():
                return None
            cand, exchanges = p.designer.repair(ctx, cand, verdict.error)
            p.usage.record(ctx.round, exchanges, record.index)
        return None

    def verdict(self, cand: Candidate, folder: Path, name: str,
                pool_path: str | None) -> CheckVerdict:
        """The static, then the runtime critic's verdict on ``cand`` (saved as ``name``)."""
        p = self.p
        if cand.source is None:
            return CheckVerdict(False, "extract", cand.error or "no code")
        p.store.write_text(folder.relative_to(p.store.root) / name, cand.source)
        static = check_source(cand.source, "<reward>")
        if static:
            return CheckVerdict(False, "static", "\n".join(str(f) for f in static))
        job = job_for(p.config, p.setup, "check", folder, name)
        job.pool_path = pool_path
        result = p.run_job(job)
        if result.get("status") != "accepted":
            error = "\n".join(result.get("findings", [])) or result.get("reason",
                                                                       "unknown failure")
            return CheckVerdict(False, "runtime", error)
        verdict = CheckVerdict(True, "runtime", warnings=result.get("warnings", []),
                               ms_per_call=result.get("ms_per_call"),
                               signature=result.get("signature"))
        if "pool_returns" in result and pool_path and p.screening is not None:
            judged = p.screening.judge(result["pool_returns"])
            verdict.prescreen, verdict.correlation = judged["prescreen"], judged["correlation"]
            if "error" in judged:
                verdict.accepted, verdict.stage = False, judged["stage"]
                verdict.error = judged["error"]
        return verdict

    def _self_critique(self, ctx: DesignContext, record: CandidateRecord, cand: Candidate,
                       verdict: CheckVerdict,
                       pool_path: str | None) -> tuple[Candidate, CheckVerdict]:
        """--llm-critique: the model reviews an accepted program against the task; a revision
        replaces it only if the critics accept the revision too."""
        p = self.p
        critique = getattr(p.designer, "critique", None)
        if not (getattr(p.config, "llm_critique", False) and critique) \
                or p.usage.budget_reached():
            return cand, verdict
        revised, exchanges = critique(ctx, cand)
        p.usage.record(ctx.round, exchanges, record.index)
        note: dict[str, Any] = {"revised": revised is not None, "kept": "original"}
        if revised is not None:
            folder = p.store.candidate_dir(ctx.round, record.index)
            checked = self.verdict(revised, folder, "critique.py", pool_path)
            note["verdict"] = checked.to_json()
            if checked.accepted:
                cand, verdict, note["kept"] = revised, checked, "revised"
        record.critique = note
        p.store.journal({"event": "critique", "round": ctx.round, "index": record.index,
                         **note})
        return cand, verdict


def job_for(config, setup: Setup, kind: str, folder: Path, program: str | None = None) -> Job:
    """The sandbox job that checks (``check``) or trains (``train``) a program of ``folder``."""
    c = config
    return Job(kind=kind, env_id=c.env, program_path=str(folder / (program or "program.py")),
               out_dir=str(folder), task=setup.task.name if setup.task else None,
               success_path=c.success, timesteps=c.timesteps, seed=c.seed, device=c.device,
               backend=getattr(c, "backend", None),
               checkpoint_every_s=getattr(c, "checkpoint_every_s", None),
               timeout_s=(c.train_timeout_s or time_limit(setup.spec, setup.task, c.timesteps))
               if kind == "train" else 60.0,
               env_kwargs=dict(getattr(c, "env_kwargs", None) or {}))


def shared_experience(root: Path, at: tuple[int, int], this_round: bool) -> list[str]:
    """The experience files (training/experience.py) of the run's other candidates that a
    training starting now is given: every earlier round's and, when trainings run one at a
    time (the budget bandit: the round's others are paused or ended, so what they wrote is
    fixed), this round's too. Oldest first, so a seed gives the same files."""
    return [str(path) for where, path in candidate_files(root, EXPERIENCE_FILE)
            if where != tuple(at) and (where[0] < at[0] or (this_round and where[0] == at[0]))]


def _repeated(cand: Candidate, attempts: list[CheckVerdict]) -> CheckVerdict | None:
    """The verdict for a program identical to an earlier refused attempt: not checked again,
    its earlier findings repeated to the model with the fact that nothing changed."""
    if cand.source is None:
        return None
    key = code_hash(cand.source)
    for number, earlier in enumerate(attempts):
        if earlier.code_hash == key and not earlier.accepted:
            return CheckVerdict(
                False, "repeat", same_as_attempt=number,
                error=f"this is the same program as attempt {number}, unchanged, so it was not "
                      f"checked again; it still fails with:\n{earlier.error}")
    return None
