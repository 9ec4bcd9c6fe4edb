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

    def rung_scores_before(self, scores: dict[tuple[int, int], dict[float, float | None]],
                           r: int) -> dict[float, list[float]]:
        """Each rung's scores, as reported there by the candidates of rounds before ``r``."""
        return {rung: [s for (rr, _), by in sorted(scores.items()) if rr < r
                       for p, s in by.items() if p == rung and s is not None]
                for rung in self.rungs}

    def verdict(self, pause: float, score: float | None, peers: list[float]) -> str | None:
        """Why a training paused at rung ``pause`` stops: its score is clearly behind
        ``peers``; None to go on (not a rung, no score, or not behind)."""
        if pause not in self.rungs or score is None or not self._behind(score, peers):
            return None
        return f"behind at rung {self.rungs.index(pause) + 1} ({pause:.0%})"

    def _behind(self, score: float, peers: list[float]) -> bool:
        if not peers or (self.threshold is not None and score >= self.threshold):
            return False
        cutoff = float(np.quantile(peers + [score], 1.0 - 1.0 / self.eta))
        best = max(peers)
        return score < cutoff and best - score > self.margin * (abs(best) + 1e-9)


# -- deterministic decisions at fixed step counts -----------------------------------------------
PAUSES = tuple(round(0.1 * k, 1) for k in range(1, 10))  # where trainings wait for a decision
GO = "go"


class RungSchedule:
    """Successive halving and stop-on-success decided at fixed fractions of each training,
    in candidate order, so that a seed gives the same decisions whatever the load or the number
    of workers.

    Every training pauses at each fraction of ``pauses`` (its own step count, not the clock)
    and reports its task score there. The decision for candidate ``(r, j)`` at a pause is
    taken once every lower-index candidate of round ``r`` has passed that pause or ended:
    - stop with "another candidate solved the task" when one of them ended meeting the target
      at or before that fraction (as if the round's trainings all ran side by side);
    - at a halving rung, stop with "behind at rung k" when its score is clearly behind those of
      earlier rounds' candidates and of lower-index candidates at the same rung;
    - else go on. Lower-index candidates never wait on higher ones, so nothing deadlocks.
    """

    def __init__(self, rungs: Sequence[float] = (0.25, 0.5), eta: float = 2.0,
                 threshold: float | None = None, margin: float = 0.1, halving: bool = True,
                 stop_on_success: bool = True, pauses: Sequence[float] = PAUSES):
        self.halving = SuccessiveHalving(rungs, eta, threshold, margin) if halving else None
        self.stop_on_success = stop_on_success
        self.pauses = tuple(sorted(set(pauses) | (set(rungs) if halving else set())))
        self.scores: dict[tuple[int, int], dict[float, float | None]] = {}
        self.waiting: dict[tuple[int, int], float] = {}  # candidate -> the pause it waits at
        self.ended: dict[tuple[int, int], tuple[float, bool]] = {}  # -> (fraction, met target)
        self.earlier: dict[float, list[float]] = {}  # rung -> scores of finished rounds
        self._lock = threading.Lock()

    def open_round(self, r: int, size: int = 0) -> None:
        """Round ``r`` (of ``size`` candidates) begins: earlier rounds' rung scores become
        every later candidate's peers."""
        with self._lock:
            self.earlier = (self.halving.rung_scores_before(self.scores, r)
                            if self.halving else {})

    def report(self, key: tuple[int, int], pause: float, score: float | None
               ) -> list[tuple[tuple[int, int], float, str]]:
        """Candidate ``key`` waits at ``pause`` with ``score``; the decisions now ready, as
        (candidate, pause, decision) with decision GO or a stop reason."""
        with self._lock:
            self.scores.setdefault(key, {})[pause] = score
            self.waiting[key] = pause
            return self._ready(key[0])

    def end(self, key: tuple[int, int], fraction: float, met_target: bool,
            scores: dict[float, float | None] | None = None
            ) -> list[tuple[tuple[int, int], float, str]]:
        """Candidate ``key`` ended (trained to ``fraction`` of its budget, or never trained:
        fraction 0), with the scores it reported at its pauses (for a training an earlier
        process finished); the decisions now ready."""
        with self._lock:
            self.scores.setdefault(key, {}).update(scores or {})
            self.ended[key] = (fraction, met_target)
            self.waiting.pop(key, None)
            return self._ready(key[0])

    def _ready(self, r: int) -> list[tuple[tuple[int, int], float, str]]:
        out: list[tuple[tuple[int, int], float, str]] = []
        progress = True
        while progress:  # a decision may complete a higher-index candidate's inputs
            progress = False
            for key, pause in sorted(self.waiting.items()):
                if key[0] == r and self._lower_done(key, pause):
                    out.append((key, pause, self._decide(key, pause)))
                    del self.waiting[key]
                    progress = True
                    break
        return out

    def _lower_done(self, key: tuple[int, int], pause: float) -> bool:
        r, j = key
        for i in range(j):
            if (r, i) in self.ended:
                continue
            if pause not in self.scores.get((r, i), {}) or self.waiting.get((r, i)) == pause:
                return False  # not there yet, or there and still undecided
        return True

    def _decide(self, key: tuple[int, int], pause: float) -> str:
        r, j = key
        if self.stop_on_success:
            for i in range(j):
                fraction, met = self.ended.get((r, i), (1.0, False))
                if met and fraction <= pause + 1e-9:
                    return f"another candidate solved the task (r{r} c{i})"
        if self.halving is not None and pause in self.halving.rungs:
            peers = list(self.earlier.get(pause, [])) + [
                self.scores[(r, i)][pause] for i in range(j)
                if self.scores.get((r, i), {}).get(pause) is not None]
            return self.halving.verdict(pause, self.scores[key].get(pause), peers) or GO
        return GO
