"""RewardVecEnv: replaces the env's reward with a reward program, one call per vector step.

It also records every finished episode (features, actions, the env's own rewards) so the
task's ground-truth score and per-component statistics can be computed without touching the
env's termination: a reward cannot change what counts as success.

States are kept as rows (``envs/layout.py``): the flattened observation, then, for a spec with
simulator features, the raw simulator vector that a ``SimFeatures`` wrapper inside each env
puts into ``info`` (the policy still sees the env's own observation). Recorded raw episodes
keep these rows under "obs".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from text2reward.envs.layout import ObsLayout, StateLayout
from text2reward.envs.sim import INFO_KEY, Gatherer, SimFeatures
from text2reward.envs.spec import EnvSpec
from text2reward.envs.state import Episode, StateView
from text2reward.errors import UsageError
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
        self._prev_obs: np.ndarray | None = None  # state rows of the current states
        self._next_view: StateView | None = None  # their view, when the last step reset none
        self._actions: np.ndarray | None = None
        self.recent_raw: deque[dict[str, Any]] = deque(maxlen=4)  # last episodes, raw arrays
        self._probes = spec.probes
        # In-process envs: gathered here each step; env processes: through their infos.
        self._gatherers = attach_sim_features(venv, self._probes) if self._probes else None
        self._sims: np.ndarray | None = None  # the gathered batch, reused every step
        self._views: list[np.ndarray] | None = None  # every env's MjData views, in row order
        self.layout = StateLayout(ObsLayout.from_space(venv.observation_space))
        self._reset_buffers(None)

    def _reset_buffers(self, first_obs: np.ndarray | None) -> None:
        """Per-step batches are kept once, in growable arrays indexed (step, env, ...); each
        env's episode is a slice of them."""
        n = self.num_envs
        self._steps = _StepBuffer()  # next-state rows, actions, the env's own rewards
        self._start = np.zeros(n, dtype=np.int64)  # global step where each episode began
        self._first = None if first_obs is None else np.array(first_obs, dtype=np.float64)
        self._reward_sum = np.zeros(n)
        self._component_sums: dict[str, np.ndarray] = {}

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        if self._probes:
            sim_layout = self.venv.get_attr("t2r_layout", [0])[0]
            self.layout = StateLayout(self.layout.obs, sim_layout)
            self._sims = np.empty((self.num_envs, sim_layout.size))
            self._bind_views()
        sims = [info[INFO_KEY] for info in self.venv.reset_infos] if self._probes else None
        self._prev_obs = self.layout.rows(obs, sims)
        self._next_view = None
        self._reset_buffers(self._prev_obs)
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.array(actions)  # a private copy, read-only for the program
        self._actions.flags.writeable = False
        self.venv.step_async(actions)

    def step_wait(self):
        obs, env_rewards, dones, infos = self.venv.step_wait()
        any_done = bool(dones.any())
        next_obs, current = self._rows(obs, dones if any_done else None, infos)
        reward, components = self._call(next_obs, reuse=not any_done)
        self._record(next_obs, current, env_rewards, reward, components,
                     dones if any_done else None, infos)
        self._prev_obs = current
        return obs, reward.astype(np.float32), dones, infos

    def _rows(self, obs, dones: np.ndarray | None,
              infos: list[dict]) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the states this step reached (terminal ones for finished envs) and of the
        states the envs are in now (reset ones for finished envs)."""
        sims = None
        if self._gatherers is not None:  # the envs' current states (reset ones for finished)
            sims = self._sims
            if dones is not None:
                self._bind_views()  # a reset may have made a new MjData
            if self._views is not None:  # every env's arrays in one call
                np.concatenate(self._views, out=sims.reshape(-1))
            else:
                for i, gatherer in enumerate(self._gatherers):
                    gatherer.gather(out=sims[i])
        elif self._probes:  # from the infos: terminal states for finished envs
            sims = np.stack([info[INFO_KEY] for info in infos])
        current = self.layout.rows(obs, sims)  # a new array, never changed once recorded
        if dones is None:
            return current, current
        next_obs = current.copy()
        width = self.layout.obs.size
        for i in np.flatnonzero(dones):
            next_obs[i, :width] = self.layout.obs.flatten_one(infos[i]["terminal_observation"])
            if self._gatherers is not None:
                next_obs[i, width:] = infos[i][INFO_KEY]
            elif self._probes:
                current[i, width:] = self.venv.reset_infos[i][INFO_KEY]
        return next_obs, current

    def _bind_views(self) -> None:
        if self._gatherers is None:
            return
        views = [g.views() for g in self._gatherers]
        self._views = None if any(v is None for v in views) else [a for v in views for a in v]

    def _call(self, next_obs: np.ndarray, reuse: bool) -> tuple[np.ndarray, dict]:
        action = self._actions
        state = self._next_view or StateView.from_rows(self.spec, self.layout, self._prev_obs)
        next_state = StateView.from_rows(self.spec, self.layout, next_obs)
        # Without a reset, this step's next state is the next step's state: its view (and the
        # features already computed on it) is reused.
        self._next_view = next_state if reuse else None
        try:
            reward, components = self.program(state, action, next_state)
        except Exception as exc:  # the program is untrusted: any failure is its fault
            raise RewardFault(f"{type(exc).__name__}: {exc}") from exc
        validate_output(reward, components, self.num_envs, finite_components=False)
        return reward, {k: np.asarray(v, dtype=np.float64) for k, v in components.items()}

    def _record(self, next_obs, obs, env_rewards, reward, components, dones, infos) -> None:
        """Keep this step's batches; close the episodes of envs that finished (``dones``,
        None when none did)."""
        self._steps.append(next_obs, self._actions, env_rewards, self._start)
        self._reward_sum += reward
        for name, value in components.items():
            sums = self._component_sums.get(name)
            if sums is None:
                sums = self._component_sums[name] = np.zeros(self.num_envs)
            sums += value
        if dones is None:
            return
        for name, sums in self._component_sums.items():  # NaN and inf propagate into the sums
            if not np.all(np.isfinite(sums)):
                raise RewardFault(f"component {name!r} contains NaN or inf")
        now = self._steps.end
        for i in np.flatnonzero(dones):
            truncated = bool(infos[i].get("TimeLimit.truncated", False))
            self.finished.append(self._close(i, now, truncated))
            self._start[i] = now
            self._first[i] = obs[i]
            self._reward_sum[i] = 0.0
            for sums in self._component_sums.values():
                sums[i] = 0.0

    def _close(self, i: int, now: int, truncated: bool) -> EpisodeStats:
        rows, actions, env_rewards = self._steps.episode(i, int(self._start[i]), now)
        obs = np.empty((len(rows) + 1, self._first.shape[1]))
        obs[0] = self._first[i]
        obs[1:] = rows  # the views are copied here and below: the buffer is reused
        actions, env_rewards = actions.copy(), env_rewards.copy()
        episode = Episode.from_arrays(self.spec, obs, actions, env_rewards,
                                      terminated=not truncated, truncated=truncated,
                                      layout=self.layout)
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


class _StepBuffer:
    """Per-step batches (step, env, ...) in arrays that grow by doubling; steps before the
    oldest running episode's start are dropped when the arrays are full."""

    def __init__(self, capacity: int = 512):
        self.capacity = capacity
        self.base = 0  # global step index of row 0
        self.used = 0  # rows in use
        self.arrays: list[np.ndarray] | None = None

    @property
    def end(self) -> int:
        """Global index one past the last stored step."""
        return self.base + self.used

    def append(self, rows: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
               starts: np.ndarray) -> None:
        """One step's batches; ``starts``: where each env's running episode began."""
        if self.arrays is None:
            self.arrays = [np.empty((self.capacity, *np.shape(b)), dtype=np.asarray(b).dtype)
                           for b in (rows, actions)] + [np.empty((self.capacity, len(rows)))]
        elif self.used == self.capacity:
            self._make_room(int(starts.min()))
        obs_rows, action_rows, reward_rows = self.arrays
        obs_rows[self.used] = rows
        action_rows[self.used] = actions
        reward_rows[self.used] = rewards
        self.used += 1

    def _make_room(self, keep_from: int) -> None:
        drop = keep_from - self.base
        keep = self.used - drop
        if keep > self.capacity // 2:  # long episodes: grow
            self.capacity *= 2
            grown = []
            for array in self.arrays:
                new = np.empty((self.capacity, *array.shape[1:]), dtype=array.dtype)
                new[:keep] = array[drop : self.used]
                grown.append(new)
            self.arrays = grown
        else:
            for array in self.arrays:
                array[:keep] = array[drop : self.used].copy()
        self.base += drop
        self.used = keep

    def episode(self, env: int, start: int, stop: int) -> tuple[np.ndarray, ...]:
        """Views of env ``env``'s rows, actions and env rewards of global steps [start, stop),
        valid until the next ``append``."""
        a, b = start - self.base, stop - self.base
        return tuple(array[a:b, env] for array in self.arrays)


def attach_sim_features(venv: VecEnv, probes: list) -> list[Gatherer] | None:
    """Make every env of ``venv`` provide the simulator vector ``probes`` read.

    Envs made with ``wrapper_class=SimFeatures`` (any VecEnv) put it in every info: None is
    returned. The envs of a DummyVecEnv are wrapped here to put it only in reset and terminal
    infos; their gatherers are returned, for the caller to gather the other steps itself."""
    if all(venv.env_is_wrapped(SimFeatures)):
        return None
    envs = getattr(venv, "envs", None)
    if envs is None:
        raise UsageError("simulator features need a DummyVecEnv, or envs made with "
                         "text2reward.envs.sim.SimFeatures as their wrapper_class")
    for i, env in enumerate(envs):
        envs[i] = SimFeatures(env, probes, every_step=False)
    return [env.t2r_gatherer for env in envs]
