"""Shared experience: an off-policy training starts from the transitions the run's earlier
trainings collected, paid by its own reward.

A reward program is a pure function of ``(state, action, next_state)``, so every transition a
candidate's training collected can be paid by any other candidate's reward. A training whose
preset learns from a replay buffer (SAC, TD3, TQC, CrossQ, DQN) keeps each transition it
stores there as the rows the programs read (``envs/layout.py``: the flattened observation,
then the simulator vector), the env's action, and whether the episode ended there, and writes
them to its folder as ``experience.npz`` at each pause and at its end. A later candidate of
the same run is given those files: its reward relabels every transition in batched calls, the
transitions fill its replay buffer, its policy takes the gradient steps it would have taken
on them (the preset's updates per env step, up to one budget's worth), and only then does it
collect experience of its own. Where trainings run one at a time (the budget bandit), a
training that waited while others trained takes what they collected when it goes on. The env
steps of a search then approach one training's.

The files are written by sandboxed workers and read as plain arrays (no pickle), checked for
shape and finiteness before use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from text2reward.envs.state import StateView
from text2reward.program import RewardFault, validate_output

FILE = "experience.npz"
OFF_POLICY = {"SAC", "TD3", "DDPG", "TQC", "CROSSQ", "DQN", "QRDQN"}
_ARRAYS = ("rows", "next_rows", "actions", "dones", "timeouts")
_CHUNK = 4096  # transitions per relabelling call
# What one train() call may sample when learning from shared transitions: SBX draws all of a
# call's batches at once, and the updates owed for 300k Ant transitions (20,000 of 256 rows)
# were one 4 GiB array, over the worker's memory limit.
MAX_SAMPLE_BYTES = 256 * 2**20


def learns_from_replay(preset: dict[str, Any]) -> bool:
    """The preset's algorithm learns from a replay buffer that shared experience can fill (not
    a HER buffer, which relabels goals itself)."""
    if str(preset.get("algo", "PPO")).upper() not in OFF_POLICY:
        return False
    buffer = (preset.get("hyperparams") or {}).get("replay_buffer_class")
    return buffer is None or getattr(buffer, "__name__", str(buffer)) in (
        "ReplayBuffer", "DictReplayBuffer")


@dataclass
class Experience:
    """Transitions in time order: state rows, next-state rows, env actions, ends."""

    rows: np.ndarray  # (n, width)
    next_rows: np.ndarray  # (n, width)
    actions: np.ndarray  # (n, *action_shape), as the env received them
    dones: np.ndarray  # (n,): the episode ended at this transition
    timeouts: np.ndarray  # (n,): ... by the time limit (not a terminal state)
    sources: int = 1  # files it was read from

    def __len__(self) -> int:
        return len(self.rows)

    def last(self, n: int) -> Experience:
        return Experience(*(getattr(self, k)[-n:] for k in _ARRAYS), sources=self.sources)


def load(paths: Sequence[str | Path], seen: dict[str, int] | None = None) -> Experience | None:
    """The transitions of ``paths`` (experience files of other trainings), oldest file first;
    files that are missing, unreadable or inconsistent are left out. With ``seen`` (a file's
    path -> how many transitions it had recorded when it was last read, updated here), only
    those recorded since. None when none is left."""
    parts = []
    for path in map(str, paths):
        try:
            with np.load(path, allow_pickle=False) as data:
                recorded = int(data["recorded"]) if "recorded" in data else None
                if seen is not None and recorded is not None and recorded <= seen.get(path, 0):
                    continue  # nothing new: the arrays are not read
                arrays = {k: np.asarray(data[k]) for k in _ARRAYS}
        except (OSError, KeyError, ValueError, TypeError):
            continue
        n = len(arrays["rows"])
        if n == 0 or arrays["rows"].ndim != 2 or arrays["next_rows"].shape != arrays["rows"].shape \
                or any(len(arrays[k]) != n for k in _ARRAYS) \
                or not all(np.isfinite(arrays[k]).all() for k in ("rows", "next_rows")):
            continue
        if parts and (arrays["rows"].shape[1] != parts[0]["rows"].shape[1]
                      or arrays["actions"].shape[1:] != parts[0]["actions"].shape[1:]):
            continue
        if seen is not None:
            recorded = n if recorded is None else recorded
            new = min(recorded - seen.get(path, 0), n)
            arrays = {k: v[n - new:] for k, v in arrays.items()}
            seen[path] = recorded
        parts.append(arrays)
    if not parts:
        return None
    return Experience(*(np.concatenate([p[k] for p in parts]) for k in _ARRAYS),
                      sources=len(parts))


class Recorder:
    """Keeps every transition an off-policy model stores in its replay buffer as the rows the
    reward programs read (its own transitions only, not those it was given), up to the
    buffer's size, and saves them to ``path``."""

    def __init__(self, model, venv, path: Path):
        self.venv, self.path = venv, Path(path)
        self.limit = int(model.replay_buffer.buffer_size * model.replay_buffer.n_envs)
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in _ARRAYS}
        self.size = 0
        self.recorded = 0  # transitions recorded in all (the file keeps the last ``limit``)
        self.saved = 0  # ... when the file was last written
        venv.keep_transitions = True
        buffer = model.replay_buffer
        add = buffer.add

        def recording_add(obs, next_obs, action, reward, done, infos, *args, **kwargs):
            self._record(done, infos)
            return add(obs, next_obs, action, reward, done, infos, *args, **kwargs)

        buffer.add = recording_add

    def _record(self, done: np.ndarray, infos: list[dict]) -> None:
        rows, next_rows, actions = self.venv.last_transition
        self.parts["rows"].append(rows.astype(np.float32))
        self.parts["next_rows"].append(next_rows.astype(np.float32))
        self.parts["actions"].append(np.array(actions))
        self.parts["dones"].append(np.asarray(done, dtype=bool).reshape(-1))
        self.parts["timeouts"].append(np.array(
            [bool(info.get("TimeLimit.truncated", False)) for info in infos]))
        self.size += len(rows)
        self.recorded += len(rows)
        if len(self.parts["rows"]) >= 4096:  # one array per kind, not one per step
            self._join()

    def _join(self) -> dict[str, np.ndarray]:
        """The transitions so far (the last ``limit``), each kind as one array."""
        arrays = {}
        for key, parts in self.parts.items():
            joined = np.concatenate(parts)[-self.limit:]
            self.parts[key] = [joined]
            arrays[key] = joined
        self.size = len(arrays["rows"])
        return arrays

    def save(self) -> None:
        """Write the transitions so far (the last ``limit``), atomically; nothing when the
        file already holds them."""
        if not self.size or self.saved == self.recorded:
            return
        arrays = self._join()
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as f:
            np.savez(f, recorded=np.int64(self.recorded), **arrays)
        os.replace(tmp, self.path)
        self.saved = self.recorded

    def resume(self, recorded: int) -> None:
        """Continue a training resumed from a checkpoint that had recorded ``recorded``
        transitions: they are read back from the file (anything it holds beyond them, written
        after the checkpoint, is dropped)."""
        self.parts = {k: [] for k in _ARRAYS}
        self.size = self.recorded = self.saved = 0
        if recorded == 0:
            self.path.unlink(missing_ok=True)
            return
        with np.load(self.path, allow_pickle=False) as data:
            extra = int(data["recorded"]) - recorded
            if extra < 0:
                raise ValueError(f"{self.path} holds fewer transitions than its checkpoint")
            arrays = {k: np.asarray(data[k]) for k in _ARRAYS}
        keep = max(len(arrays["rows"]) - extra, 0)
        self.parts = {k: [v[:keep]] for k, v in arrays.items()}
        self.size, self.recorded = keep, recorded
        if extra:
            self.save()
        self.saved = recorded


def relabel(program, schema, experience: Experience) -> np.ndarray:
    """The reward ``program`` pays for each transition, in batched calls."""
    out = np.empty(len(experience))
    for a in range(0, len(experience), _CHUNK):
        b = min(a + _CHUNK, len(experience))
        state = StateView.of_rows(schema, experience.rows[a:b].astype(np.float64))
        next_state = StateView.of_rows(schema, experience.next_rows[a:b].astype(np.float64))
        try:
            reward, components = program(state, experience.actions[a:b], next_state)
        except Exception as exc:  # the program is untrusted: any failure is its fault
            raise RewardFault(f"on the shared experience: {type(exc).__name__}: {exc}") from exc
        validate_output(reward, components, b - a, finite=False)
        if not np.isfinite(reward).all():
            raise RewardFault("the reward is NaN or inf on the shared experience")
        out[a:b] = reward
    return out


def updates_per_step(model) -> float:
    """Gradient steps the model takes per env step it collects."""
    freq = model.train_freq
    every = getattr(freq, "frequency", freq if isinstance(freq, int) else 1)
    unit = getattr(getattr(freq, "unit", None), "value", "step")
    steps = (every if unit == "step" else 1) * model.n_envs
    gradient_steps = model.gradient_steps
    return 1.0 if gradient_steps < 0 else gradient_steps / max(steps, 1)


class Sharing:
    """What a training takes of the run's shared experience: the transitions it is given at
    its start and, where trainings run one at a time (the budget bandit), those the others
    collected while it waited, read at each pause (``refresh``: the files to read then).

    Each batch is paid by the training's program, put into its replay buffer, and followed by
    the gradient steps the preset would have taken on it (its updates per env step, up to
    ``budget`` env steps' worth in all)."""

    def __init__(self, model, venv, program, budget: int, start: Experience | None,
                 refresh=None, seen: dict[str, int] | None = None):
        self.model, self.venv, self.program, self.budget = model, venv, program, budget
        self.start, self.refresh, self.seen = start, refresh, seen if seen is not None else {}
        self.info: dict[str, Any] = {"transitions": 0, "files": 0, "updates": 0}
        self.files: set[str] = set(self.seen)  # the files it took transitions from
        # files given without their paths (``seen`` not passed) count by their number
        self.unnamed = start.sources if start is not None and not self.files else 0
        self.updates_left = None  # set at the start, once the model's update rate is known
        self.resumed = False

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps of it (the transitions it took are in the replay buffer)."""
        return {"seen": self.seen, "info": self.info, "files": sorted(self.files),
                "unnamed": self.unnamed, "updates_left": self.updates_left}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's ``state()``: what it was given at its start is in the
        restored replay buffer already."""
        self.seen = dict(state["seen"])
        self.info, self.files = state["info"], set(state["files"])
        self.unnamed, self.updates_left = state["unnamed"], state["updates_left"]
        self.start, self.resumed = None, True

    def on_start(self) -> None:
        """At the start of learning, when the env's state layout is known."""
        if self.resumed:
            return
        self.updates_left = int(round(updates_per_step(self.model) * self.budget))
        if self.start is not None:
            self._take(self.start)
            self.start = None
        self.info["files"] = len(self.files) + self.unnamed

    def on_pause(self, pause: float) -> None:
        """After a pause's decision to go on: what the others added since."""
        if self.refresh is None:
            return
        before = dict(self.seen)
        experience = load(self.refresh(), self.seen)
        if experience is None:
            return
        taken = self._take(experience)
        if taken:
            self.files.update(k for k, v in self.seen.items() if before.get(k) != v)
            self.info["files"] = len(self.files) + self.unnamed
            self.info.setdefault("refreshes", []).append({"pause": pause, "transitions": taken})

    def _take(self, experience: Experience) -> int:
        """Put ``experience`` into the replay buffer and learn from it; how many were taken."""
        buffer, venv = self.model.replay_buffer, self.venv
        width = venv.layout.size
        if experience.rows.shape[1] != width:
            self.info["skipped"] = (f"the shared transitions have {experience.rows.shape[1]} "
                                    f"columns, this env's state rows {width}")
            return 0
        if getattr(buffer, "optimize_memory_usage", False):
            self.info["skipped"] = "the replay buffer keeps no next observations"
            return 0
        n_envs = buffer.n_envs
        slots = min(len(experience) // n_envs, buffer.buffer_size)
        if slots == 0:
            return 0
        exp = experience.last(slots * n_envs)
        rewards = relabel(self.program, venv.schema, exp)
        _put(self.model, venv, exp, rewards, slots)
        taken = slots * n_envs
        updates = min(int(round(updates_per_step(self.model) * taken)), self.updates_left or 0)
        if updates and buffer.size() * n_envs >= self.model.batch_size:
            _learn(self.model, updates)
            self.updates_left -= updates
        else:
            updates = 0
        self.model.learning_starts = 0  # its policy acts from here on: it has learned already
        self.info["transitions"] += taken
        self.info["updates"] += updates
        self.info["reward_mean"] = float(rewards.mean())
        return taken


def sample_row_bytes(buffer) -> int:
    """Bytes one sampled transition's observation and next observation take."""
    obs = buffer.observations
    return 2 * sum(a[0, 0].nbytes for a in (obs.values() if isinstance(obs, dict) else [obs]))


def _learn(model, updates: int) -> None:
    """``updates`` gradient steps, in train() calls that sample at most ``MAX_SAMPLE_BYTES``
    of observations."""
    rows = MAX_SAMPLE_BYTES // max(sample_row_bytes(model.replay_buffer), 1)
    per_call = max(rows // model.batch_size, 1)
    while updates > 0:
        steps = min(updates, per_call)
        model.train(gradient_steps=steps, batch_size=model.batch_size)
        updates -= steps


def _put(model, venv, exp: Experience, rewards: np.ndarray, slots: int) -> None:
    """Write ``slots`` vector steps of transitions into the replay buffer after its newest."""
    from gymnasium import spaces

    buffer = model.replay_buffer
    n_envs, size = buffer.n_envs, buffer.buffer_size
    at = (buffer.pos + np.arange(slots)) % size

    def per_env(array: np.ndarray) -> np.ndarray:
        return array.reshape(slots, n_envs, *array.shape[1:])

    obs_width = venv.layout.obs.size
    pairs = ((buffer.observations, exp.rows), (buffer.next_observations, exp.next_rows))
    for target, rows in pairs:
        obs = venv.layout.obs.unflatten(rows[:, :obs_width].astype(np.float64))
        if isinstance(target, dict):
            for key, array in target.items():
                array[at] = per_env(obs[key]).reshape(array[at].shape)
        else:
            target[at] = per_env(obs).reshape(target[at].shape)
    actions = exp.actions
    if isinstance(model.action_space, spaces.Box):  # the buffer keeps them scaled to [-1, 1]
        actions = model.policy.scale_action(actions.astype(np.float64))
    buffer.actions[at] = per_env(actions).reshape(buffer.actions[at].shape)
    buffer.rewards[at] = per_env(rewards)
    buffer.dones[at] = per_env(exp.dones)
    if hasattr(buffer, "timeouts"):
        buffer.timeouts[at] = per_env(exp.timeouts)
    buffer.full = buffer.full or buffer.pos + slots >= size
    buffer.pos = int((buffer.pos + slots) % size)
