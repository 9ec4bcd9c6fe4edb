"""The run's bank of stored episodes, and the pre-screen each new candidate goes through.

Episodes of every trained candidate are added as trainings finish; before a round, the bank
is frozen into one file that every candidate of that round is scored on in its check worker
(the same batch for all, so their correlations are comparable).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from text2reward.analysis.prescreen import judge, spearman
from text2reward.analysis.trajectories import TrajectoryPool, load_episodes, save_episodes
from text2reward.envs.layout import StateLayout
from text2reward.envs.spec import EnvSpec, Task
from text2reward.program import RewardProgram


class Screening:
    """Stored successes and failures of a run; judges candidates' returns on them."""

    def __init__(self, spec: EnvSpec, task: Task | None, threshold: float, root: Path,
                 env_kwargs: dict[str, Any] | None = None):
        self.spec, self.task, self.root = spec, task, root
        self.env_kwargs = spec.env_kwargs(task) if env_kwargs is None else env_kwargs
        self._layout: StateLayout | None = None  # the stored rows' layout, found once
        self.pool = TrajectoryPool(threshold)
        self.counts = {"rejections": 0, "trainings_saved": 0}
        self.frozen: dict[str, Any] | None = None  # this round's snapshot
        self._lock = threading.Lock()

    def add(self, folder: Path) -> None:
        """Keep the episodes a finished training saved in ``folder``."""
        episodes = load_episodes(folder / "episodes.npz")
        with self._lock:
            self.pool.add(episodes)

    def freeze(self, r: int) -> str | None:
        """Write round ``r``'s snapshot; its path, or None while successes or failures lack."""
        self.frozen = None
        if not self.pool.ready:
            return None
        episodes, labels = self.pool.episodes(), self.pool.labels()
        path = self.root / "prescreen" / f"pool_r{r:02d}.npz"
        path.parent.mkdir(exist_ok=True)
        save_episodes(path, episodes)
        self.frozen = {"path": str(path), "episodes": episodes, "labels": labels,
                       "expert": self._expert_returns(episodes)}
        return self.frozen["path"]

    def _expert_returns(self, episodes: list[dict[str, Any]]) -> list[float] | None:
        if self.task is None or not self.task.expert_path.exists():
            return None
        from text2reward.critic.runtime import env_layout, trajectory_returns

        if self._layout is None:  # stored rows carry the simulator vector after the observation
            self._layout = env_layout(self.spec, self.env_kwargs)
        path = self.task.expert_path
        return trajectory_returns(self.spec, RewardProgram.load(path.read_text(), str(path)),
                                  episodes, self._layout)

    def judge(self, returns: list[float]) -> dict[str, Any]:
        """Verdict fields for a candidate's returns on the frozen episodes."""
        frozen = self.frozen
        verdict = judge(returns, frozen["episodes"], frozen["labels"])
        scores = [e["score"] for e in frozen["episodes"]]
        expert = frozen["expert"]
        out: dict[str, Any] = {
            "prescreen": {k: v for k, v in verdict.items() if k != "message"},
            "correlation": {"success": spearman(returns, scores),
                            "expert": spearman(returns, expert) if expert else None},
        }
        if not verdict["passed"]:
            with self._lock:
                self.counts["rejections"] += 1
                self.counts["trainings_saved"] += 1
            out.update(accepted=False, stage="prescreen", error=verdict["message"])
        return out
