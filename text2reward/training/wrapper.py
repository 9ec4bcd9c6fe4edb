"""RewardVecEnv: replaces the env's reward with a reward program, one call per vector step.

It also records every finished episode (features, actions, the env's own rewards) so the
task's ground-truth score and per-component statistics can be computed without touching the
env's termination: a reward cannot change what counts as success.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from text2reward.envs.spec import EnvSpec
from text2reward.envs.state import Episode, StateView
from text2reward.program import RewardFault, validate_output


@dataclass
class EpisodeStats:
    """What training keeps of one finished episode."""

    score: float
    length: int
    env_return: float
    reward_return: float
    components: dict[str, float]
    terminated: bool
    truncated: bool


class RewardVecEnv(VecEnvWrapper):
    """Apply ``program`` to each vector step and keep episode statistics in ``finished``."""

    def __init__(
        self,
        venv: VecEnv,
        spec: EnvSpec,
        program: Callable[..., tuple[np.ndarray, dict]],
        score_fn: Callable[[Episode], float],
    ):
        super().__init__(venv)
        self.spec = spec
        self.program = program
        self.score_fn = score_fn
        self.finished: list[EpisodeStats] = []
        self._prev_obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None
        self.recent_raw: deque[dict[str, Any]] = deque(maxlen=4)  # last episodes, raw arrays
        self._reset_buffers(None)

    def _reset_buffers(self, first_obs: np.ndarray | None) -> None:
        """Per-step batches are kept once; each env's episode is a slice of them."""
        n = self.num_envs
        self._obs_steps: list[np.ndarray] = []  # next-state batch of every step
        self._act_steps: list[np.ndarray] = []
        self._rew_steps: list[np.ndarray] = []  # the env's own rewards
        self._base = 0  # global index of _obs_steps[0]
        self._start = np.zeros(n, dtype=np.int64)  # global step where each episode began
        self._first = None if first_obs is None else np.array(first_obs, dtype=np.float64)
        self._reward_sum = np.zeros(n)
        self._component_sums: dict[str, np.ndarray] = {}

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        self._prev_obs = np.asarray(obs)
        self._reset_buffers(self._prev_obs)
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.array(actions)
        self.venv.step_async(actions)

    def step_wait(self):
        obs, env_rewards, dones, infos = self.venv.step_wait()
        next_obs = np.array(obs, dtype=np.float64)
        for i in np.flatnonzero(dones):
            next_obs[i] = infos[i]["terminal_observation"]
        reward, components = self._call(next_obs)
        self._record(next_obs, np.asarray(obs), env_rewards, reward, components, dones, infos)
        self._prev_obs = np.asarray(obs)
        return obs, reward.astype(np.float32), dones, infos

    def _call(self, next_obs: np.ndarray) -> tuple[np.ndarray, dict]:
        action = self._actions.copy()
        action.flags.writeable = False
        state = StateView.from_obs(self.spec, self._prev_obs)
        next_state = StateView.from_obs(self.spec, next_obs)
        try:
            reward, components = self.program(state, action, next_state)
        except Exception as exc:  # the program is untrusted: any failure is its fault
            raise RewardFault(f"{type(exc).__name__}: {exc}") from exc
        validate_output(reward, components, self.num_envs, finite_components=False)
        return reward, {k: np.asarray(v, dtype=np.float64) for k, v in components.items()}

    def _record(self, next_obs, obs, env_rewards, reward, components, dones, infos) -> None:
        self._obs_steps.append(next_obs)
        self._act_steps.append(self._actions)
        self._rew_steps.append(np.asarray(env_rewards, dtype=np.float64))
        self._reward_sum += reward
        for name, value in components.items():
            if name not in self._component_sums:
                self._component_sums[name] = np.zeros(self.num_envs)
            self._component_sums[name] += value
        if not dones.any():
            return
        for name, sums in self._component_sums.items():  # NaN and inf propagate into the sums
            if not np.all(np.isfinite(sums)):
                raise RewardFault(f"component {name!r} contains NaN or inf")
        now = self._base + len(self._obs_steps)
        for i in np.flatnonzero(dones):
            truncated = bool(infos[i].get("TimeLimit.truncated", False))
            self.finished.append(self._close(i, now, truncated))
            self._start[i] = now
            self._first[i] = obs[i]
            self._reward_sum[i] = 0.0
            for sums in self._component_sums.values():
                sums[i] = 0.0
        self._trim()

    def _trim(self) -> None:
        """Drop per-step batches no running episode needs any more."""
        drop = int(self._start.min()) - self._base
        if drop > 256:
            del self._obs_steps[:drop], self._act_steps[:drop], self._rew_steps[:drop]
            self._base += drop

    def _close(self, i: int, now: int, truncated: bool) -> EpisodeStats:
        steps = range(int(self._start[i]) - self._base, now - self._base)
        obs = np.empty((len(steps) + 1, self._first.shape[1]))
        obs[0] = self._first[i]
        obs[1:] = [self._obs_steps[t][i] for t in steps]
        actions = np.stack([self._act_steps[t][i] for t in steps])
        env_rewards = np.array([self._rew_steps[t][i] for t in steps])
        episode = Episode.from_arrays(self.spec, obs, actions, env_rewards,
                                      terminated=not truncated, truncated=truncated)
        score = float(self.score_fn(episode))
        self.recent_raw.append({"obs": obs, "actions": actions, "score": score,
                                "terminated": not truncated})
        return EpisodeStats(
            score=score,
            length=episode.length,
            env_return=episode.env_return,
            reward_return=float(self._reward_sum[i]),
            components={k: float(v[i]) for k, v in self._component_sums.items()},
            terminated=not truncated,
            truncated=truncated,
        )
