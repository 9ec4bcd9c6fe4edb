"""Train less: asynchronous successive halving over the candidates of a run.

At each rung (a fraction of the training budget) a candidate's recent task score is compared
with the scores other candidates had at the same rung; one clearly behind the top 1/eta is
stopped, so its remaining budget is not spent. Candidates that already meet the success
threshold are never stopped.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence

import numpy as np


class SuccessiveHalving:
    """Decides, from progress reports, which trainings to stop early."""

    def __init__(self, rungs: Sequence[float] = (0.25, 0.5), eta: float = 2.0,
                 threshold: float | None = None, margin: float = 0.1):
        self.rungs = tuple(rungs)
        self.eta = eta
        self.threshold = threshold
        self.margin = margin
        self.scores: dict[float, list[float]] = {r: [] for r in self.rungs}
        self._reached: set[tuple[Hashable, float]] = set()
        self._lock = threading.Lock()

    def report(self, key: Hashable, step: int, total: int, score: float | None) -> bool:
        """Record a progress report; True when this training should stop now."""
        if score is None:
            return False
        with self._lock:
            for rung in self.rungs:
                if step < rung * total or (key, rung) in self._reached:
                    continue
                self._reached.add((key, rung))
                peers = self.scores[rung]
                behind = self._behind(score, peers)
                peers.append(score)
                if behind:
                    return True
        return False

    def _behind(self, score: float, peers: list[float]) -> bool:
        if not peers or (self.threshold is not None and score >= self.threshold):
            return False
        cutoff = float(np.quantile(peers + [score], 1.0 - 1.0 / self.eta))
        best = max(peers)
        return score < cutoff and best - score > self.margin * (abs(best) + 1e-9)
