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
collect experience of its own. The env steps of a search then approach one training's.

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


def load(paths: Sequence[str | Path]) -> Experience | None:
    """The transitions of ``paths`` (experience files of other trainings), oldest file first;
    files that are missing, unreadable or inconsistent are left out. None when none is left."""
    parts = []
    for path in paths:
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: np.asarray(data[k]) for k in _ARRAYS}
        except (OSError, KeyError, ValueError):
            continue
        n = len(arrays["rows"])
        if n == 0 or arrays["rows"].ndim != 2 or arrays["next_rows"].shape != arrays["rows"].shape \
                or any(len(arrays[k]) != n for k in _ARRAYS) \
                or not all(np.isfinite(arrays[k]).all() for k in ("rows", "next_rows")):
            continue
        if parts and (arrays["rows"].shape[1] != parts[0]["rows"].shape[1]
                      or arrays["actions"].shape[1:] != parts[0]["actions"].shape[1:]):
            continue
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
        """Write the transitions so far (the last ``limit``), atomically."""
        if not self.size:
            return
        arrays = self._join()
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, self.path)


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


def prefill(model, venv, program, experience: Experience, budget: int) -> dict[str, Any]:
    """Fill ``model``'s (empty) replay buffer with ``experience`` paid by ``program`` and take
    the gradient steps the preset would have taken on it (up to ``budget`` env steps' worth).
    Called at the start of learning, when the env's state layout is known. What was shared,
    for the training's result; {"skipped": why} when it could not be."""
    buffer = model.replay_buffer
    width = venv.layout.size
    if experience.rows.shape[1] != width:
        return {"skipped": f"the shared transitions have {experience.rows.shape[1]} columns, "
                           f"this env's state rows {width}"}
    if getattr(buffer, "optimize_memory_usage", False):
        return {"skipped": "the replay buffer keeps no next observations"}
    n_envs = buffer.n_envs
    slots = min(len(experience) // n_envs, buffer.buffer_size)
    if slots == 0:
        return {"skipped": "too few transitions"}
    exp = experience.last(slots * n_envs)
    rewards = relabel(program, venv.schema, exp)

    def per_env(array: np.ndarray) -> np.ndarray:
        return array.reshape(slots, n_envs, *array.shape[1:])

    obs_width = venv.layout.obs.size
    pairs = ((buffer.observations, exp.rows), (buffer.next_observations, exp.next_rows))
    for target, rows in pairs:
        obs = venv.layout.obs.unflatten(rows[:, :obs_width].astype(np.float64))
        if isinstance(target, dict):
            for key, array in target.items():
                array[:slots] = per_env(obs[key]).reshape(array[:slots].shape)
        else:
            target[:slots] = per_env(obs).reshape(target[:slots].shape)
    actions = exp.actions
    from gymnasium import spaces

    if isinstance(model.action_space, spaces.Box):  # the buffer keeps them scaled to [-1, 1]
        actions = model.policy.scale_action(actions.astype(np.float64))
    buffer.actions[:slots] = per_env(actions).reshape(buffer.actions[:slots].shape)
    buffer.rewards[:slots] = per_env(rewards)
    buffer.dones[:slots] = per_env(exp.dones)
    if hasattr(buffer, "timeouts"):
        buffer.timeouts[:slots] = per_env(exp.timeouts)
    buffer.pos = slots % buffer.buffer_size
    buffer.full = slots == buffer.buffer_size
    shared = slots * n_envs
    updates = int(round(updates_per_step(model) * min(shared, budget)))
    if updates and shared >= model.batch_size:
        model.train(gradient_steps=updates, batch_size=model.batch_size)
    model.learning_starts = 0  # its policy acts from the first step: it has learned already
    return {"transitions": shared, "files": experience.sources, "updates": updates,
            "reward_mean": float(rewards.mean())}
