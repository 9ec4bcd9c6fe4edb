"""The training callback: snapshots of the task's progress over training, early stops, and
the pauses where the run decides whether a training goes on (see search/halving.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from text2reward.sandbox.job import decision_path, stop_requested
from text2reward.training.summary import summarise
from text2reward.training.wrapper import RewardVecEnv

Emit = Callable[[dict[str, Any]], None]
N_SNAPSHOTS = 10


def wait_for_decision(folder: Path, pause: float, poll_s: float = 0.005) -> str:
    """Block until the run writes its decision for ``pause`` into ``folder`` ("go" or why to
    stop); the run's ``stop`` file (an interruption) ends the wait too."""
    path = decision_path(folder, pause)
    while not path.exists():
        if (reason := stop_requested(folder)) is not None:
            return reason
        time.sleep(poll_s)
        poll_s = min(poll_s * 1.1, 0.1)  # a long wait (the budget bandit) costs no CPU
    return path.read_text().strip()


class SnapshotCallback(BaseCallback):
    """Summaries of the episodes finished between ~10 evenly spaced points of training."""

    def __init__(self, env: RewardVecEnv, total: int, threshold: float | None, emit: Emit,
                 stop_file: Path | None = None, stop_when_solved: bool = False,
                 pauses: tuple[float, ...] = (), on_start: Callable[[], None] | None = None,
                 before_pause: Callable[[], None] | None = None,
                 after_pause: Callable[[float], None] | None = None,
                 before_rollout: Callable[[], None] | None = None,
                 at_pause: Callable[[], None] | None = None) -> None:
        super().__init__()
        # on_start: run once learning has begun (the env reset), before the first step;
        # before_pause: run at each pause before it is reported (the run may act on it);
        # after_pause: run after a pause's decision to go on;
        # before_rollout: run as each rollout starts, when the policy has learnt from every
        # step so far (checkpoints);
        # at_pause: run at each pause, after before_pause and before it is reported
        # (the checkpoint a training killed while it waits continues from)
        self.on_start, self.before_pause, self.after_pause = on_start, before_pause, after_pause
        self.before_rollout, self.at_pause = before_rollout, at_pause
        self.env, self.total, self.threshold, self.emit = env, total, threshold, emit
        self.stop_file, self.stop_when_solved = stop_file, stop_when_solved
        self.snapshots: list[dict[str, Any]] = []
        self.raw: list[dict[str, Any]] = []  # raw episodes sampled over training
        self.stopped: str | None = None  # why training ended before its budget, if it did
        self.every = max(self.total // N_SNAPSHOTS, 1)
        self.next_at = self.every
        self.next_check = self.every // 2  # solved-stop checks, every 2.5% of the budget
        self.seen = 0
        self.start = time.perf_counter()
        self.start_step = 0  # where this process's learning began (a resumed training's step)
        self.last_emit = 0.0
        self.clock_every = 16 * self.env.num_envs  # the clock is read every 16 vector steps
        self.next_clock = 0
        self.next_due = 0
        self.pauses = list(pauses)  # fractions where the run decides: go on or stop
        self.pause_log: list[dict[str, Any]] = []  # each pause's step, score and decision
        self.pause_seen = 0  # training episodes finished by the last pause
        self.next_pause = self._pause_step()
        self.pending: dict[str, Any] | None = None  # the pause waiting for its decision

    def _pause_step(self) -> float:
        return self.pauses[0] * self.total if self.pauses else float("inf")

    def _on_training_start(self) -> None:
        if self.on_start is not None:
            self.on_start()
        if self.pending is not None and not self.await_decision():
            self.next_due = 0  # resumed at a pause that stops it: the first step ends it
        self.start = time.perf_counter()
        self.start_step = self.num_timesteps

    def _on_step(self) -> bool:
        # Runs every vector step: a single comparison unless something is due.
        return self.num_timesteps < self.next_due or self._due()

    def _due(self) -> bool:
        if self.stopped is not None:
            return False
        steps = self.num_timesteps
        if steps >= self.next_at:
            window = self.env.finished[self.seen :] or self.env.finished[-5:]
            self.seen = len(self.env.finished)
            self.snapshots.append({"step": steps, **summarise(window, self.threshold)})
            self.raw.extend(list(self.env.recent_raw)[-2:])  # a few episodes from each stage
            self.env.recent_raw.clear()
            self._log(self.snapshots[-1])
            self.next_at += self.every
        if self.stop_when_solved and steps >= self.next_check:
            self.next_check += max(self.total // 40, 1)
            if self._solved():
                self.stopped = "solved"
                return False
        if steps >= self.next_pause and not self._pause(steps):
            return False
        if steps >= self.next_clock:
            self.next_clock = steps + self.clock_every
            now = time.perf_counter()
            if now - self.last_emit > 0.5:
                self.last_emit = now
                recent = summarise(self.env.finished[-20:], self.threshold)
                sps = (steps - self.start_step) / max(now - self.start, 1e-9)
                self.emit({"event": "progress", "step": steps, "total": self.total, "sps": sps,
                      "score": recent.get("score"),
                      "success_rate": recent.get("success_rate")})
                reason = stop_requested(self.stop_file.parent) if self.stop_file else None
                if reason is not None:  # the run's reason
                    self.stopped = reason
                    return False
        self.next_due = min(self.next_at, self.next_clock, self.next_pause,
                            self.next_check if self.stop_when_solved else self.next_at)
        return True

    def _pause(self, steps: int) -> bool:
        """At a fixed fraction of the budget: report the task score of the training
        episodes so far and wait for the run's decision; False to stop here."""
        pause = self.pauses.pop(0)
        self.next_pause = self._pause_step()
        recent = summarise(self._since_last_pause(), self.threshold)
        if self.before_pause is not None:
            self.before_pause()
        self.pending = {"pause": pause, "step": steps, "score": recent.get("score")}
        if self.at_pause is not None:
            self.at_pause()
        return self.await_decision()

    def await_decision(self) -> bool:
        """Report the pending pause and wait for the run's decision; False to stop there. A
        training resumed from a checkpoint written at a pause starts here."""
        pause, steps, score = (self.pending[k] for k in ("pause", "step", "score"))
        self.emit({"event": "pause", "pause": pause, "step": steps, "total": self.total,
                   "score": score})
        decision = wait_for_decision(self.stop_file.parent, pause) if self.stop_file else "go"
        self.pause_log.append({"pause": pause, "step": steps, "score": score,
                               "decision": decision})
        self.pending = None
        if decision != "go":
            self.stopped = decision
            return False
        if self.after_pause is not None:
            self.after_pause(pause)
        return True

    def _since_last_pause(self, least: int = 5) -> list:
        """The training episodes a pause is judged on: those finished since the last pause
        (the policy as it is now: a fixed count of recent episodes would reach back thousands
        of steps where episodes are long and envs few), at least the last ``least``."""
        finished = self.env.finished
        window = finished[self.pause_seen:]
        self.pause_seen = len(finished)
        return window if len(window) >= least else finished[-least:]

    def _on_rollout_start(self) -> None:
        if self.before_rollout is not None:
            self.before_rollout()

    def _on_rollout_end(self) -> None:
        self.env.check_finite()  # before the policy learns from this rollout's rewards

    def _solved(self) -> bool:
        """The last 10 training episodes (stochastic policy) meet the task's self.threshold."""
        if self.threshold is None or len(self.env.finished) < 10:
            return False
        return (summarise(self.env.finished[-10:], self.threshold)["success_rate"] or 0.0) >= 1.0

    def _log(self, snapshot: dict[str, Any]) -> None:
        """Send a snapshot to SB3's logger (TensorBoard when enabled)."""
        for key in ("score", "success_rate", "length", "env_return", "reward_return"):
            if snapshot.get(key) is not None:
                self.logger.record(f"task/{key}", snapshot[key])
        for name, value in snapshot.get("components", {}).items():
            self.logger.record(f"reward_components/{name}", value)
        self.logger.dump(self.num_timesteps)
