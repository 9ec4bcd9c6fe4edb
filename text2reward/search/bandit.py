"""Move a round's training budget to the candidate that is getting somewhere.

Successive halving trains a round's candidates side by side and only cuts the ones behind at
fixed rungs, so with K candidates a search spends several budgets before stop-on-success can
end it. The budget bandit (``--allocation bandit``) trains one candidate at a time instead,
in slices between the pauses every training makes (every 10% of its budget), and at each
pause decides where the next slice goes, as ORSO moves a budget between reward functions:

- a candidate whose task score heads for the threshold keeps the budget;
- one that has stalled (from half its budget on, a line through its last four pause scores
  falls short of the threshold at the end of its budget, and it does not meet the threshold
  yet) waits, paused where it is, and the budget moves to the next candidate not tried yet,
  else to the paused candidate with the best score;
- at a halving rung a candidate clearly behind the scores other candidates had at that rung
  (this round's and earlier rounds') stops there, as in successive halving;
- once a candidate meets the target in every evaluation episode the round is over: the paused
  candidates stop where they wait and those not started are skipped.

A paused training is a sleeping worker process; nothing is trained twice. Every decision
depends only on scores at fixed step counts, taken one at a time in a fixed order, so a seed
gives the same search whatever the load or the number of workers.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from text2reward.search.halving import GO, PAUSES, SuccessiveHalving

START = 0.0  # the "pause" of a candidate waiting to start its training
PENDING = "pending"  # the next candidate in order has not reached its training yet
Key = tuple[int, int]
Action = tuple[Key, float, str]  # (candidate, pause, GO or why it stops / is skipped)


class BudgetBandit:
    """The decisions of one search: which candidate trains next, and which waits or stops.

    The interface is the one of ``RungSchedule`` (``open_round``, ``report``, ``end``), with
    ``arrive`` for a candidate ready to start training: each returns the actions now ready,
    as (candidate, pause, decision), where pause ``START`` is a candidate's start."""

    def __init__(self, rungs: Sequence[float] = (0.25, 0.5), eta: float = 2.0,
                 threshold: float | None = None, margin: float = 0.1, window: int = 4,
                 judge_from: float = 0.5, halving: bool = True,
                 pauses: Sequence[float] = PAUSES):
        self.halving = SuccessiveHalving(rungs, eta, threshold, margin) if halving else None
        self.threshold, self.window, self.judge_from = threshold, window, judge_from
        self.pauses = tuple(sorted(set(pauses) | (set(rungs) if halving else set())))
        self.scores: dict[Key, dict[float, float | None]] = {}
        self.earlier: dict[float, list[float]] = {}  # rung -> scores of finished rounds
        self.size = 0
        self.round = -1
        self.ready: set[Key] = set()  # at the start gate, not started
        self.waiting: dict[Key, float] = {}  # paused, the budget elsewhere -> the pause
        self.ended: set[Key] = set()
        self.active: Key | None = None  # the one candidate training now
        self.solved: Key | None = None
        self.moved_from: tuple[Key, float] | None = None  # the last holder that stalled
        self.moves: list[dict] = []  # where the budget went, for the journal
        self._lock = threading.Lock()

    # -- the interface ---------------------------------------------------------------------
    def open_round(self, r: int, size: int = 0) -> None:
        with self._lock:
            self.earlier = (self.halving.rung_scores_before(self.scores, r)
                            if self.halving else {})
            self.round, self.size = r, size
            self.ready, self.waiting, self.ended = set(), {}, set()
            self.active = self.solved = self.moved_from = None

    def arrive(self, key: Key) -> list[Action]:
        """Candidate ``key`` passed its critics and waits to start training."""
        with self._lock:
            self.ready.add(key)
            return self._next()

    def report(self, key: Key, pause: float, score: float | None) -> list[Action]:
        """The training of ``key`` paused at ``pause`` with ``score``."""
        with self._lock:
            self.scores.setdefault(key, {})[pause] = score
            behind = self._behind(key, pause)
            if behind is not None:  # it stops here, and holds the budget until its end():
                return [(key, pause, behind)]  # its evaluation may still meet the target
            if self._stalled(key) and self._alternative(key) is not None:
                self.waiting[key] = pause  # paused where it is; the budget moves on
                self.active = None
                self.moved_from = (key, pause)
                return self._next()
            return [(key, pause, GO)]

    def end(self, key: Key, fraction: float, met_target: bool,
            scores: dict[float, float | None] | None = None) -> list[Action]:
        """Candidate ``key`` ended: trained (to ``fraction`` of its budget), or never trained."""
        with self._lock:
            self.scores.setdefault(key, {}).update(scores or {})
            self.ended.add(key)
            self.ready.discard(key)
            self.waiting.pop(key, None)
            if self.active == key:
                self.active = None
            if met_target and self.solved is None:
                self.solved = key
            return self._next()

    def take_moves(self) -> list[dict]:
        """Where the budget moved since the last call."""
        with self._lock:
            moves, self.moves = self.moves, []
            return moves

    # -- the rules -------------------------------------------------------------------------
    def _next(self) -> list[Action]:
        """Give the budget to the next candidate when nobody holds it."""
        if self.solved is not None:
            return self._close()
        if self.active is not None:
            return []
        choice = self._alternative(None)
        if choice is None or choice == PENDING:
            return []  # all ended, or the next one in order is still in its critics
        self.active = choice
        if self.moved_from is not None:
            (r, j), pause = self.moved_from
            if choice != (r, j):
                self.moves.append({"round": r, "from": j, "pause": pause, "to": choice[1]})
            self.moved_from = None
        if choice in self.waiting:
            return [(choice, self.waiting.pop(choice), GO)]
        self.ready.discard(choice)
        return [(choice, START, GO)]

    def _alternative(self, holder: Key | None) -> Key | str | None:
        """Who gets the budget instead of ``holder``: the lowest-index candidate not tried
        yet (PENDING while it is still in its critics: decisions never depend on how fast
        they run), else the paused candidate with the best score (better than the holder's,
        when there is a holder); None when there is nobody."""
        for j in range(self.size):
            key = (self.round, j)
            if key == holder or key == self.active or key in self.ended \
                    or key in self.waiting or key in self.scores:
                continue
            return key if key in self.ready else PENDING
        paused = [k for k in sorted(self.waiting) if k != holder]
        if not paused:
            return None
        best = max(paused, key=lambda k: (self._best(k), -k[1]))
        if holder is not None and self._best(best) <= self._best(holder):
            return None
        return best

    def _best(self, key: Key) -> float:
        known = [s for s in self.scores.get(key, {}).values() if s is not None]
        return max(known) if known else float("-inf")

    def _stalled(self, key: Key) -> bool:
        """Its recent scores no longer head for the threshold: from ``judge_from`` of its budget
        on, a line fitted through its last ``window`` pause scores falls short of the threshold
        at the end of its budget."""
        if self.threshold is None or self._best(key) >= self.threshold:
            return False  # nothing to head for, or it meets the threshold: let it finish
        seq = [(p, s) for p, s in sorted(self.scores.get(key, {}).items()) if s is not None]
        if len(seq) < self.window or seq[-1][0] < self.judge_from:
            return False  # learning curves often stay flat, then rise: give it half a budget
        x, y = np.array(seq[-self.window:]).T
        slope, intercept = np.polyfit(x, y, 1)
        return slope + intercept < self.threshold  # the fitted line at the whole budget

    def _behind(self, key: Key, pause: float) -> str | None:
        if self.halving is None or pause not in self.halving.rungs:
            return None
        peers = list(self.earlier.get(pause, [])) + [
            by[pause] for k, by in sorted(self.scores.items())
            if k != key and k[0] == self.round and by.get(pause) is not None]
        return self.halving.verdict(pause, self.scores[key].get(pause), peers)

    def _close(self) -> list[Action]:
        """The round is solved: every paused candidate stops, every waiting one is skipped."""
        reason = f"another candidate solved the task (r{self.solved[0]} c{self.solved[1]})"
        out: list[Action] = [(k, p, reason) for k, p in sorted(self.waiting.items())]
        out += [(k, START, reason) for k in sorted(self.ready)]
        for key, _, _ in out:
            self.ended.add(key)
        self.waiting.clear()
        self.ready.clear()
        return out
