"""RewardVecEnv: replaces the env's reward with a reward program, one call per vector step.

It also records every finished episode (features, actions, the env's own rewards) so the
task's ground-truth score and per-component statistics can be computed without touching the
env's termination: a reward cannot change what counts as success.

States are kept as rows (``envs/layout.py``): the flattened observation, then, for a spec with
simulator features, the raw simulator vector (the policy still sees the env's own observation):
gathered here for in-process envs (``InProcessSims``), sent in ``info`` by a ``SimFeatures``
wrapper for envs in other processes. Recorded raw episodes keep these rows under "obs".

Each step's rows are a new array: the program gets it read-only, and the same array is
recorded. Steps are recorded in bulk (at episode ends, before every policy update through
``check_finite``, and every 256 steps): the step's arrays are stacked into the step buffer and
the running per-episode sums, where NaN and inf in the reward or a component are caught.
"""

from __future__ import annotations

import ctypes
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from text2reward.envs.layout import ObsLayout, StateLayout
from text2reward.envs.sim import INFO_KEY, Gatherer, SimFeatures, SimLayout
from text2reward.envs.spec import EnvSpec
from text2reward.envs.state import Episode, RowSchema, StateView
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
        self._prev_rows: np.ndarray | None = None  # state rows of the envs' current states
        self._next_view: StateView | None = None  # their view, when the last step reset none
        self._actions: np.ndarray | None = None
        self.recent_raw: deque[dict[str, Any]] = deque(maxlen=4)  # last episodes, raw arrays
        self._probes = spec.probes
        # In-process envs are gathered here; envs in other processes send theirs in infos.
        self._sims = InProcessSims.attach(venv, self._probes) if self._probes else None
        self.layout = StateLayout(ObsLayout.from_space(venv.observation_space))
        self._schema = RowSchema(spec, self.layout)
        self._capacity = _StepBuffer.capacity_for(_time_limit(venv))
        self._reset_buffers(None)

    def _reset_buffers(self, first_rows: np.ndarray | None) -> None:
        """Per-step batches are kept once, in growable arrays indexed (step, env, ...); each
        env's episode is a slice of them."""
        n = self.num_envs
        self._steps = _StepBuffer(self._capacity)  # next-state rows, actions, env rewards
        self._start = np.zeros(n, dtype=np.int64)  # global step where each episode began
        self._first = None if first_rows is None else np.array(first_rows, dtype=np.float64)
        self._reward_sum = np.zeros(n)
        self._component_sums: dict[str, np.ndarray] = {}
        # Steps not yet recorded: (next-state rows, actions, env rewards, reward, components),
        # each a reference to arrays made for that step, recorded in bulk by _flush.
        self._pending: list[tuple] = []

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        if self._sims is not None:
            self.layout = StateLayout(self.layout.obs, self._sims.start())
            self._schema = RowSchema(self.spec, self.layout)
            self._prev_rows = self._sims.rows(obs, self.layout, rebind=True)
        else:
            if self._probes:
                self.layout = StateLayout(self.layout.obs,
                                          self.venv.get_attr("t2r_layout", [0])[0])
                self._schema = RowSchema(self.spec, self.layout)
            self._prev_rows = self.layout.rows(obs, self._from_infos(self.venv.reset_infos))
        self._next_view = None
        self._reset_buffers(self._prev_rows)
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        # A private read-only copy: the program reads it and it is recorded later; the env
        # gets the caller's array.
        self._actions = np.array(actions)
        self._actions.flags.writeable = False
        self.venv.step_async(actions)

    def step_wait(self):
        obs, env_rewards, dones, infos = self.venv.step_wait()
        done = np.count_nonzero(dones) > 0  # 4x faster than dones.any() on small arrays
        if done:
            next_rows, current = self._rows_after_resets(obs, dones, infos)
        elif self._sims is not None:
            next_rows = current = self._sims.rows(obs, self.layout, rebind=False)
        else:
            next_rows = current = self.layout.rows(obs, self._from_infos(infos))
        schema = self._schema
        state = self._next_view or StateView.of_rows(schema, self._prev_rows)
        next_state = StateView.of_rows(schema, next_rows)  # the rows become read-only
        # Without a reset, this step's next state is the next step's state: its view (and the
        # features already computed on it) is reused.
        self._next_view = None if done else next_state
        self._prev_rows = current
        try:
            reward, components = self.program(state, self._actions, next_state)
        except Exception as exc:  # the program is untrusted: any failure is its fault
            raise RewardFault(f"{type(exc).__name__}: {exc}") from exc
        validate_output(reward, components, self.num_envs, finite=False)
        self._pending.append((next_rows, self._actions, env_rewards, reward, components))
        if done:
            self._close_finished(dones, current, infos)
        elif len(self._pending) >= _FLUSH_EVERY:
            self._flush()
        return obs, reward.astype(np.float32), dones, infos

    def _flush(self) -> None:
        """Record the pending steps: rows, actions and env rewards into the step buffer, the
        rewards and components into the running per-episode sums; a few numpy calls for all
        of them instead of several per step."""
        if not self._pending:
            return
        rows, actions, env_rewards, rewards, components = zip(*self._pending, strict=True)
        self._pending = []
        self._steps.extend(rows, actions, env_rewards, self._start)
        self._reward_sum += np.sum(rewards, axis=0)
        zeros = np.zeros(self.num_envs)
        sums = self._component_sums
        for name in dict.fromkeys(name for step in components for name in step):
            total = np.sum([step.get(name, zeros) for step in components], axis=0)
            if name in sums:
                sums[name] += total
            else:
                sums[name] = zeros + total

    def check_finite(self) -> None:
        """Raise RewardFault if the reward or a component was NaN or inf since the episodes
        began: they propagate into the running sums (checked here at every episode end and,
        by the trainer, before every policy update, instead of on every step)."""
        self._flush()
        if not np.isfinite(self._reward_sum).all():
            raise RewardFault("reward contains NaN or inf; guard divisions and logs "
                              "(np.clip, eps)")
        for name, sums in self._component_sums.items():
            if not np.isfinite(sums).all():
                raise RewardFault(f"component {name!r} contains NaN or inf")

    def _from_infos(self, infos: list[dict]) -> np.ndarray | None:
        """The simulator vectors that envs in other processes send in their infos (terminal
        ones for finished envs), or None without probes."""
        return np.stack([info[INFO_KEY] for info in infos]) if self._probes else None

    def _rows_after_resets(self, obs, dones: np.ndarray,
                           infos: list[dict]) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the states this step reached (terminal ones for finished envs) and of the
        states the envs are in now (reset ones for finished envs): new arrays."""
        if self._sims is not None:
            current = self._sims.rows(obs, self.layout, rebind=True)  # a new MjData?
        else:
            current = self.layout.rows(obs, self._from_infos(infos))
        next_rows = current.copy()
        width = self.layout.obs.size
        for i in np.flatnonzero(dones):
            next_rows[i, :width] = self.layout.obs.flatten_one(infos[i]["terminal_observation"])
            if self._sims is not None:
                next_rows[i, width:] = self._sims.terminal[i]
            elif self._probes:
                current[i, width:] = self.venv.reset_infos[i][INFO_KEY]
        return next_rows, current

    def _close_finished(self, dones: np.ndarray, current: np.ndarray, infos: list[dict]) -> None:
        """Close the episodes of the envs that finished this step; ``current``: their reset
        states, the first states of their next episodes."""
        self.check_finite()
        now = self._steps.end
        for i in np.flatnonzero(dones):
            truncated = bool(infos[i].get("TimeLimit.truncated", False))
            self.finished.append(self._close(i, now, truncated))
            self._start[i] = now
            self._first[i] = current[i]
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
                                      layout=self.layout, schema=self._schema)
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


def _time_limit(venv: VecEnv) -> int | None:
    """The envs' episode step limit, when their gymnasium spec has one."""
    try:
        spec = venv.get_attr("spec", [0])[0]
    except Exception:  # an env without a spec, or one that refuses the attribute
        return None
    limit = getattr(spec, "max_episode_steps", None)
    return int(limit) if limit else None


_FLUSH_EVERY = 256  # pending steps are recorded at the latest after this many


class _StepBuffer:
    """Per-step batches (step, env, ...) in arrays that grow by doubling; steps before the
    oldest running episode's start are dropped when the arrays are full."""

    @staticmethod
    def capacity_for(time_limit: int | None) -> int:
        """Room for a whole episode of the env's time limit (no growing on the way), within
        512 to 4096 steps."""
        if not time_limit:
            return 512
        return min(max(512, 1 << int(time_limit).bit_length()), 4096)

    def __init__(self, capacity: int = 512):
        self.capacity = capacity
        self.base = 0  # global step index of row 0
        self.used = 0  # rows in use
        self.arrays: list[np.ndarray] | None = None

    @property
    def end(self) -> int:
        """Global index one past the last stored step."""
        return self.base + self.used

    def extend(self, rows: tuple[np.ndarray, ...], actions: tuple[np.ndarray, ...],
               rewards: tuple[np.ndarray, ...], starts: np.ndarray) -> None:
        """Several steps' batches, oldest first; ``starts``: where each env's running episode
        began."""
        k = len(rows)
        if self.arrays is None:
            self.capacity = max(self.capacity, 2 * k)
            self.arrays = [np.empty((self.capacity, *np.shape(rows[0]))),
                           np.empty((self.capacity, *np.shape(actions[0])),
                                    dtype=np.asarray(actions[0]).dtype),
                           np.empty((self.capacity, len(rows[0])))]
        elif self.used + k > self.capacity:
            self._make_room(int(starts.min()), k)
        a, b = self.used, self.used + k
        for array, batches in zip(self.arrays, (rows, actions, rewards), strict=True):
            np.stack(batches, out=array[a:b], casting="same_kind")
        self.used = b

    def _make_room(self, keep_from: int, k: int) -> None:
        """Drop the steps before ``keep_from``; grow when the rest and ``k`` more steps would
        fill more than half of the arrays."""
        drop = keep_from - self.base
        keep = self.used - drop
        if keep + k > self.capacity // 2:  # long episodes: grow
            while keep + k > self.capacity // 2:
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


class InProcessSims:
    """State rows of the envs of a DummyVecEnv whose specs read the simulator, gathered in
    this process.

    No wrapper layer runs on every env step. After each vector step the rows of every env's
    current state are gathered at once; an env's terminal simulator state is gathered just
    before the DummyVecEnv resets it, by a hook on that env's ``reset``.

    MuJoCo envs: the MjData arrays the probes read and the vector env's observation buffer
    stay at fixed addresses while the MjData lives, so one read-only float64 view spanning
    all of them and the index of every row element in it are made once (again when an env
    makes a new MjData); a step's rows are then a single fancy-indexing copy, instead of a
    copy per env and array. Other envs (``attr:`` probes, or arrays that cannot be viewed)
    are gathered env by env.
    """

    def __init__(self, venv: VecEnv, probes: list):
        self.venv = venv
        self.gatherers = [Gatherer(env, probes) for env in venv.envs]
        self.layout: SimLayout | None = None
        self.terminal: np.ndarray | None = None  # (n_envs, size): the last terminal states
        self._data: list[Any] = []  # the MjData objects the index below was made for
        self._span: np.ndarray | None = None  # a read-only view over all of their arrays
        self._index: np.ndarray | None = None  # (n_envs, row size) positions in _span
        self._keep: tuple | None = None  # the arrays _span covers, kept alive with it
        for i, env in enumerate(venv.envs):
            env.reset = self._hook(i, env.reset)

    @classmethod
    def attach(cls, venv: VecEnv, probes: list) -> InProcessSims | None:
        """For a DummyVecEnv, the gathering of its envs' simulator vectors; None when every env
        puts them in its infos itself (made with ``wrapper_class=SimFeatures``, as SubprocVecEnv
        env processes are)."""
        if all(venv.env_is_wrapped(SimFeatures)):
            return None
        if getattr(venv, "envs", None) is None:
            raise UsageError("simulator features need a DummyVecEnv, or envs made with "
                             "text2reward.envs.sim.SimFeatures as their wrapper_class")
        return cls(venv, probes)

    def _hook(self, i: int, reset: Callable) -> Callable:
        gatherer = self.gatherers[i]

        def reset_after_gathering(**kwargs):
            if self.terminal is not None:  # the env's last state, before it is replaced
                gatherer.gather(out=self.terminal[i])
            return reset(**kwargs)

        return reset_after_gathering

    def start(self) -> SimLayout:
        """After the vector env's reset: the layout of the simulator vectors."""
        if self.layout is None:
            self.layout = self.gatherers[0].layout()
            self.terminal = np.empty((len(self.gatherers), self.layout.size))
        return self.layout

    def rows(self, obs: Any, layout: StateLayout, rebind: bool) -> np.ndarray:
        """Rows (a new array) of every env's current state, whose observations are ``obs``;
        ``rebind`` after resets (an env may have made a new MjData)."""
        if rebind:
            self._bind(layout)
        if self._index is not None:
            return self._span[self._index]
        sims = np.empty((len(self.gatherers), self.layout.size))
        for gatherer, out in zip(self.gatherers, sims, strict=True):
            gatherer.gather(out=out)
        return layout.rows(obs, sims)

    def _bind(self, layout: StateLayout) -> None:
        data = [g.env.data if g.views() is not None else None for g in self.gatherers]
        if len(data) == len(self._data) and all(
                a is b for a, b in zip(data, self._data, strict=True)):
            return  # the same MjData objects: the index still holds
        self._data, self._span, self._index = data, None, None
        buffer = getattr(self.venv, "buf_obs", {}).get(None)
        if any(d is None for d in data) or layout.obs.keys is not None or buffer is None \
                or buffer.dtype != np.float64 or buffer.shape != (len(data), layout.obs.size):
            return
        per_env = [[row, *g.views()] for row, g in zip(buffer, self.gatherers, strict=True)]
        arrays = [a for env_arrays in per_env for a in env_arrays]
        addresses = [a.__array_interface__["data"][0] for a in arrays]
        start = min(addresses)
        stop = max(a + array.nbytes for a, array in zip(addresses, arrays, strict=True))
        if any((a - start) % 8 or not array.flags.c_contiguous
               for a, array in zip(addresses, arrays, strict=True)):
            return
        span = np.frombuffer((ctypes.c_char * (stop - start)).from_address(start),
                             dtype=np.float64)
        span.flags.writeable = False
        index, at = [], 0
        for env_arrays in per_env:
            parts = []
            for array in env_arrays:
                parts.append((addresses[at] - start) // 8 + np.arange(array.size))
                at += 1
            index.append(np.concatenate(parts))
        index = np.array(index)
        if index.shape != (len(data), layout.size):
            return
        self._keep = (buffer, arrays)  # the span is only valid while these live
        self._span, self._index = span, index
