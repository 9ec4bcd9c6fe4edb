"""The evidence step: the search's top candidates trained again with further seeds.

The search's own training counts as one seed; the winner is named on the mean over seeds
(success rate first, then score), as Eureka retrains its final reward. Each training is
journaled (``reeval``) as it ends, so a resumed run redoes none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from text2reward.runfolder import read_journal
from text2reward.search.candidate import Collaborators, job_for
from text2reward.search.records import CandidateRecord, rank_key

InWorkers = Callable[[list[tuple[Callable[..., Any], tuple]]], list[Any]]


class Reevaluation:
    """Trains the top ``config.reeval_top`` candidates with ``config.reeval_seeds - 1`` more
    seeds each, and names the winner."""

    def __init__(self, parts: Collaborators, in_workers: InWorkers) -> None:
        self.p, self.in_workers = parts, in_workers
        self.seeds, self.top = parts.config.reeval_seeds, parts.config.reeval_top

    def run(self, records: list[CandidateRecord]) -> dict[str, Any] | None:
        """The re-evaluation of the best of ``records`` (None when it is off or nothing was
        trained): per-seed runs, mean, spread and success rate of each, and the winner."""
        ranked = sorted((rec for rec in records if rec.ranked), key=lambda rec: rec.rank,
                        reverse=True)[:self.top]
        if self.seeds <= 1 or not ranked:
            return None
        base = self.p.config.seed
        done = {(e["round"], e["index"], e["seed"]): e for e in read_journal(self.p.store.root)
                if e.get("event") == "reeval"}
        todo = [(rec, base + k) for rec in ranked for k in range(1, self.seeds)
                if (rec.round, rec.index, base + k) not in done]
        self.p.observe({"event": "reeval", "candidates": len(ranked), "trainings": len(todo)})
        for event in self.in_workers([(self._one, (rec, seed)) for rec, seed in todo]):
            done[(event["round"], event["index"], event["seed"])] = event
        return self._summary(ranked, done)

    def _one(self, record: CandidateRecord, seed: int) -> dict[str, Any]:
        p = self.p
        folder = p.store.candidate_dir(record.round, record.index)
        job = job_for(p.config, p.setup, "train", folder / f"seed{seed}")
        job.program_path, job.seed = str(folder / "program.py"), seed
        job.stop_when_solved = p.config.early_stop  # the protocol of the search's own run
        result = p.run_job(job)
        final = result.get("eval") or {}
        event = {"event": "reeval", "round": record.round, "index": record.index, "seed": seed,
                 "status": result.get("status"), "score": final.get("score"),
                 "success_rate": final.get("success_rate"), "steps": result.get("steps"),
                 "wall_time_s": result.get("wall_time_s"), "reason": result.get("reason")}
        if not p.stopping.stopping:
            p.store.journal(event)
        return event

    def _summary(self, ranked: list[CandidateRecord],
                 done: dict[tuple, dict[str, Any]]) -> dict[str, Any]:
        rows, costs = [], list(done.values())
        for rec in ranked:
            final = rec.result.eval if rec.result is not None else {}
            runs = [{"seed": self.p.config.seed, "score": final.get("score"),
                     "success_rate": final.get("success_rate")}]
            runs += [{"seed": e["seed"], "score": e["score"], "success_rate": e["success_rate"]}
                     for (r, i, _), e in sorted(done.items())
                     if (r, i) == rec.at and e["status"] == "trained"]
            scores = [x["score"] for x in runs if x["score"] is not None]
            rates = [x["success_rate"] for x in runs if x["success_rate"] is not None]
            rows.append({"round": rec.round, "index": rec.index, "runs": runs,
                         "mean": float(np.mean(scores)), "std": float(np.std(scores)),
                         "success_rate": float(np.mean(rates)) if rates else None})
        winner = max(rows, key=lambda row: rank_key(row["success_rate"], row["mean"]))
        return {"seeds": self.seeds, "top": self.top, "candidates": rows,
                "winner": [winner["round"], winner["index"]],
                "env_steps": sum(e.get("steps") or 0 for e in costs),
                "wall_time_s": sum(e.get("wall_time_s") or 0.0 for e in costs)}
