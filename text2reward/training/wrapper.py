"""RewardVecEnv: replaces the env's reward with a reward program, one call per vector step.

It also records every finished episode (features, actions, the env's own rewards) so the
task's ground-truth score and per-component statistics can be computed without touching the
env's termination: a reward cannot change what counts as success.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass
class _Trace:
    obs: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    env_rewards: list[float] = field(default_factory=list)
    reward: float = 0.0
    components: dict[str, float] = field(default_factory=dict)


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
        self._traces = [_Trace() for _ in range(self.num_envs)]
        self.recent_raw: deque[dict[str, Any]] = deque(maxlen=4)  # last episodes, raw arrays

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        self._prev_obs = np.asarray(obs)
        self._traces = [_Trace(obs=[row.copy()]) for row in self._prev_obs]
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
        validate_output(reward, components, self.num_envs)
        return reward, {k: np.asarray(v, dtype=np.float64) for k, v in components.items()}

    def _record(self, next_obs, obs, env_rewards, reward, components, dones, infos) -> None:
        for i, trace in enumerate(self._traces):
            trace.obs.append(next_obs[i].copy())
            trace.actions.append(self._actions[i])
            trace.env_rewards.append(float(env_rewards[i]))
            trace.reward += float(reward[i])
            for name, value in components.items():
                trace.components[name] = trace.components.get(name, 0.0) + float(value[i])
            if dones[i]:
                truncated = bool(infos[i].get("TimeLimit.truncated", False))
                self.finished.append(self._close(trace, truncated))
                self._traces[i] = _Trace(obs=[obs[i].copy()])

    def _close(self, trace: _Trace, truncated: bool) -> EpisodeStats:
        episode = Episode.from_arrays(
            self.spec,
            np.stack(trace.obs),
            np.stack(trace.actions),
            np.asarray(trace.env_rewards),
            terminated=not truncated,
            truncated=truncated,
        )
        score = float(self.score_fn(episode))
        self.recent_raw.append({"obs": episode.features["obs"], "actions": episode.actions,
                                "score": score, "terminated": not truncated})
        return EpisodeStats(
            score=score,
            length=episode.length,
            env_return=episode.env_return,
            reward_return=trace.reward,
            components=dict(trace.components),
            terminated=not truncated,
            truncated=truncated,
        )
