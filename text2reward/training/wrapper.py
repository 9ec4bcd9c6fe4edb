"""RewardVecEnv: replaces the env's reward with a reward program, one call per vector step.

It also records every finished episode (features, actions, the env's own rewards) so the
task's ground-truth score and per-component statistics can be computed without touching the
env's termination: a reward cannot change what counts as success.

States are kept as rows (``envs/layout.py``): the flattened observation, then, for a spec with
simulator features, the raw simulator vector (the policy still sees the env's own observation):
gathered here for in-process envs (``InProcessSims``), sent in ``info`` by a ``SimFeatures``
wrapper for envs in other processes. Recorded raw episodes keep these rows under "obs".

Steps are recorded in a buffer of slots, one per vector step (``StepBuffer``). A step's
rows are written straight into its slot, and the program reads them there, through read-only
views. The step's other arrays (actions, env rewards, reward, each component) are recorded in
bulk, at episode ends, before every policy update through ``check_finite`` and every 256
steps: one call per kind of array, after which the new rewards and components are checked for
NaN and inf. An episode's rows, its initial state included, are consecutive slots, so closing
it reads views, not copies.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from text2reward.envs.layout import ObsLayout, StateLayout
from text2reward.envs.sim import INFO_KEY
from text2reward.envs.spec import EnvSpec
from text2reward.envs.state import Episode, RowSchema, StateView, state_text
from text2reward.program import NONFINITE_FIX, RewardFault, validate_output
from text2reward.training.buffer import COMPONENT, StepBuffer
from text2reward.training.sims import InProcessSims


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
        self._capacity = StepBuffer.capacity_for(_time_limit(venv, spec.env_id))
        self._steps: StepBuffer | None = None  # made by reset()
        self._born = time.time()  # episode infos carry the time since, as Monitor's do
        self._no_dones = bytes(self.num_envs)  # the bytes of a bool dones array of no ends
        # Shared experience (training/experience.py) reads each step's transition here: the
        # state rows, the next-state rows (terminal states for envs that ended) and the actions.
        self.keep_transitions = False
        self.last_transition: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def schema(self) -> RowSchema:
        """How features are read from the current state rows."""
        return self._schema

    def _reset_buffers(self, first_rows: np.ndarray) -> None:
        """A new step buffer whose first slot holds the envs' initial states."""
        self._steps = StepBuffer(self._capacity, first_rows)
        self._start = np.zeros(self.num_envs, dtype=np.int64)  # slot of each episode's start
        # The other arrays of steps whose rows and actions are in the buffer: (env rewards,
        # reward, components), references to arrays made for that step, recorded by _flush.
        self._pending: list[tuple] = []
        self._names: list[str] = []  # the program's component names, in order of appearance

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        if self._sims is not None:
            self.layout = StateLayout(self.layout.obs, self._sims.start())
            self._schema = RowSchema(self.spec, self.layout)
            first = self._sims.rows(obs, self.layout, rebind=True)
        else:
            if self._probes:
                self.layout = StateLayout(self.layout.obs,
                                          self.venv.get_attr("t2r_layout", [0])[0])
                self._schema = RowSchema(self.spec, self.layout)
            first = self.layout.rows(obs, self._from_infos(self.venv.reset_infos))
        self._next_view = None
        self._reset_buffers(first)
        self._prev_rows = self._steps.readonly["rows"][0]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        # The step's slot: the actions are copied there (the program reads them read-only and
        # they are recorded); the env gets the caller's array.
        steps = self._steps
        slot, moved = steps.new_slot(self._start, self._flush)
        if moved:  # the buffer's slots moved: the current states' rows with them
            self._prev_rows, self._next_view = steps.readonly["rows"][slot - 1], None
        self._actions = steps.put_actions(slot, actions)
        self.venv.step_async(actions)

    def step_wait(self):
        obs, env_rewards, dones, infos = self.venv.step_wait()
        flags = dones.tobytes()  # all zero bytes when no env finished: 60 ns, np.any 950
        done = flags != self._no_dones and any(flags)
        slot = self._steps.used - 1
        rows = self._steps.arrays["rows"][slot]  # this step's slot, written here
        if self._sims is not None:
            self._sims.rows(obs, self.layout, rebind=done, out=rows)
        else:
            self.layout.rows(obs, self._from_infos(infos), out=rows)
        resets = self._terminal_rows(rows, dones, infos) if done else None
        schema = self._schema
        frozen = self._steps.readonly["rows"][slot]  # the same slot, as the program reads it
        state = self._next_view or StateView.of_rows(schema, self._prev_rows)
        next_state = StateView.of_rows(schema, frozen)
        # Without a reset, this step's next state is the next step's state: its view (and the
        # features already computed on it) is reused.
        self._next_view = None if done else next_state
        if self.keep_transitions:  # copies: the slots are reused and reset rows replace ends
            self.last_transition = (np.array(self._prev_rows), np.array(frozen),
                                    np.array(self._actions))
        self._prev_rows = frozen
        try:
            reward, components = self.program(state, self._actions, next_state)
        except Exception as exc:  # the program is untrusted: any failure is its fault
            raise RewardFault(f"{type(exc).__name__}: {exc}") from exc
        validate_output(reward, components, self.num_envs, finite=False)
        self._pending.append((env_rewards, reward, components))
        if done:
            self._close_finished(dones, resets, infos)
        elif len(self._pending) >= _FLUSH_EVERY:
            self._flush()
        return obs, reward.astype(np.float32), dones, infos

    def _terminal_rows(self, rows: np.ndarray, dones: np.ndarray, infos: list[dict]) -> np.ndarray:
        """Put the terminal states of the envs that finished this step into their ``rows``
        (which hold the states the envs are in now); return those current (reset) rows."""
        finished = np.flatnonzero(dones)
        resets = rows[finished]  # a copy
        width = self.layout.obs.size
        for k, i in enumerate(finished):
            rows[i, :width] = self.layout.obs.flatten_one(infos[i]["terminal_observation"])
            if self._sims is not None:
                rows[i, width:] = self._sims.terminal[i]
            elif self._probes:  # infos carried the terminal vectors, reset infos the new ones
                resets[k, width:] = self.venv.reset_infos[i][INFO_KEY]
        return resets

    def _flush(self) -> None:
        """Record the pending steps' other arrays into their slots, a few numpy calls for all
        of them, and raise RewardFault if a reward or a component among them is NaN or inf."""
        if not self._pending:
            return
        env_rewards, rewards, components = zip(*self._pending, strict=True)
        self._pending = []
        batches = {"env_rewards": env_rewards, "reward": rewards}
        names = self._names  # every component seen, zero where a step lacks it
        new = set().union(*components).difference(names)
        if new:
            names += [n for n in dict.fromkeys(n for step in components for n in step) if n in new]
        zeros = np.zeros(self.num_envs)
        for name in names:
            batches[COMPONENT + name] = [step.get(name, zeros) for step in components]
        a, b = self._steps.extend(batches)
        for name in (*names, "reward"):  # a component names the term at fault
            key = name if name == "reward" else COMPONENT + name
            finite = np.isfinite(self._steps.arrays[key][a:b])
            if not finite.all():
                what = "reward" if key == "reward" else f"component {name!r}"
                raise RewardFault(f"{what} is NaN or inf {self._where(a, finite)}; "
                                  f"{NONFINITE_FIX}")

    def _where(self, a: int, finite: np.ndarray) -> str:
        """Where the first non-finite value of a flush (slots from ``a``) was: the training
        step and the next state the program was given (the slot's rows: a flush comes before
        an episode's last rows are replaced by the next episode's first)."""
        k, env = (int(x) for x in np.argwhere(~finite)[0])
        rows = self._steps.arrays["rows"][a + k]
        step = (self._steps.base + a + k) * self.num_envs
        return (f"after about {step} env steps of training (next_state: "
                f"{state_text(self.spec, self.layout, rows, env)})")

    def check_finite(self) -> None:
        """Record the pending steps; raise RewardFault if a reward or a component was NaN or
        inf (checked here at every episode end and, by the trainer, before every policy
        update, instead of on every step)."""
        self._flush()

    def _from_infos(self, infos: list[dict]) -> np.ndarray | None:
        """The simulator vectors that envs in other processes send in their infos (terminal
        ones for finished envs), or None without probes."""
        return np.stack([info[INFO_KEY] for info in infos]) if self._probes else None

    def _close_finished(self, dones: np.ndarray, resets: np.ndarray, infos: list[dict]) -> None:
        """Close the episodes of the envs that finished this step; ``resets``: their current
        rows, the first states of their next episodes, which take this step's slot."""
        self.check_finite()
        steps = self._steps
        last = steps.end - 1  # this step's slot
        finished = np.flatnonzero(dones)
        keep = self.recent_raw.maxlen
        raw = finished if keep is None else finished[len(finished) - keep :]
        for i in finished:
            info = infos[i]
            stats = self._close(i, int(self._start[i]), last,
                                bool(info.get("TimeLimit.truncated", False)), i in raw)
            self.finished.append(stats)
            if "episode" not in info:  # what SB3's Monitor would have put there, for its logs
                info["episode"] = {"r": round(stats.env_return, 6), "l": stats.length,
                                   "t": round(time.time() - self._born, 6)}
        # The closed episodes' last rows are no longer needed: the new ones start there. The
        # slot is the one step_wait made the next state's rows (self._prev_rows).
        steps.arrays["rows"][last - steps.base, finished] = resets
        self._start[finished] = last

    def _close(self, i: int, first: int, last: int, truncated: bool, raw: bool) -> EpisodeStats:
        """Env ``i``'s episode: its first state in slot ``first``, its steps in the slots
        after it up to ``last``. The success function reads features computed from a view of
        the buffer's rows (see EpisodeFeatures); the rows are copied only for an episode kept
        in ``recent_raw`` or by the success function."""
        steps = self._steps
        obs = steps.view("rows", i, first, last + 1)
        actions = steps.view("actions", i, first + 1, last + 1).copy()
        env_rewards = steps.view("env_rewards", i, first + 1, last + 1).copy()
        episode = Episode.from_arrays(self.spec, obs, actions, env_rewards,
                                      terminated=not truncated, truncated=truncated,
                                      layout=self.layout, schema=self._schema, borrowed=True)
        held = sys.getrefcount(episode), sys.getrefcount(episode.features)
        score = float(self.score_fn(episode))
        if (sys.getrefcount(episode), sys.getrefcount(episode.features)) != held:
            episode.features.own()  # the success function kept the episode
        if raw:
            self.recent_raw.append({"obs": obs.copy(), "actions": actions, "score": score,
                                    "terminated": not truncated})
        return EpisodeStats(
            score=score,
            length=episode.length,
            env_return=episode.env_return,
            reward_return=float(steps.view("reward", i, first + 1, last + 1).sum()),
            components={name: float(steps.view(COMPONENT + name, i, first + 1, last + 1).sum())
                        for name in self._names},
            terminated=not truncated,
            truncated=truncated,
        )


def _time_limit(venv: VecEnv, env_id: str) -> int | None:
    """The envs' episode step limit, when their gymnasium spec has one. Envs in other
    processes are not asked: an env process whose spec cannot be pickled (Meta-World registers
    lambdas) dies on the request and leaves the vector env hanging; the registry's is used."""
    import gymnasium as gym

    try:
        envs = getattr(venv, "envs", None)  # in-process envs
        spec = envs[0].spec if envs else gym.spec(env_id)
    except Exception:  # an env without a spec
        return None
    limit = getattr(spec, "max_episode_steps", None)
    return int(limit) if limit else None


_FLUSH_EVERY = 256  # pending steps are recorded at the latest after this many
