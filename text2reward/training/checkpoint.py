"""Checkpoints of long trainings: a training that is killed part-way (a crash, a lost machine,
a stopped batch) continues from its last checkpoint when its job runs again in the same
folder, instead of from step 0.

A checkpoint is written as a rollout starts (the policy has learnt from every step so far)
once ``every_s`` seconds of training have passed since the last one (``CHECKPOINT_EVERY_S``
by default; a preset's ``checkpoint_every_s`` changes it, 0 turns checkpoints off), so
trainings shorter than that never write one. A training that pauses for a search's decisions
(successive halving, the budget bandit) also writes one at each pause, before it reports
there: killed while it waits, it continues by waiting there again.
It goes to ``checkpoint.new/`` and is renamed to ``checkpoint/`` when whole: a kill while
writing leaves the previous one as it was. Nothing in it is unpickled when it is read back:
networks and optimisers as torch tensors (``weights_only``) or flax bytes (SBX), the replay
buffer as .npy files, normalisation statistics as .npz, the rest as JSON.

It is used only by the same program, preset and seed (its ``fingerprint``); any other is
removed. A resumed training is not bit-identical to one that ran through: its envs start new
episodes where it resumes, and random generators start afresh. Its result says from which
step it resumed.

A training that shares experience with a search's other candidates (training/experience.py)
keeps, besides, how many transitions it had recorded (its experience file is cut back to
them when it resumes) and how many it had taken from each other file. The search's own
decisions are journaled and replayed when it resumes (search/stopping.py), so a resumed
training is told again what it was told at the pauses it passes again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from text2reward.training import normalize

CHECKPOINT_EVERY_S = 600.0
CHUNK_BYTES = 128 * 2**20
FOLDER = "checkpoint"
BUFFER_FIELDS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")
CALLBACK_FIELDS = ("snapshots", "pause_log", "stopped", "seen", "next_at", "next_check",
                   "pause_seen", "pauses", "next_pause", "pending")


def fingerprint(program_source: str, preset: dict[str, Any], seed: int) -> str:
    """What a checkpoint must match to be resumed: the program, the preset and the seed."""
    text = json.dumps({"program": program_source, "preset": preset, "seed": int(seed)},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def every_s(preset: dict[str, Any]) -> float:
    return float(preset.get("checkpoint_every_s", CHECKPOINT_EVERY_S) or 0.0)


def last(out_dir: Path) -> Path | None:
    """The folder of the last checkpoint written in ``out_dir`` (``checkpoint.old`` when a kill
    fell between the two renames of a save), or None."""
    for name in (FOLDER, FOLDER + ".old"):
        if (Path(out_dir) / name / "state.json").exists():
            return Path(out_dir) / name
    return None


def remove(out_dir: Path) -> None:
    for name in (FOLDER, FOLDER + ".new", FOLDER + ".old"):
        shutil.rmtree(Path(out_dir) / name, ignore_errors=True)


class Checkpointer:
    """Writes and reads the checkpoints of one training (``run``: trainer.Training)."""

    def __init__(self, run, out_dir: Path, every: float, key: str, backend: str):
        self.run, self.out_dir, self.every, self.key = run, Path(out_dir), every, key
        self.backend = backend
        self.elapsed_before = 0.0  # training seconds before the last resume
        self.resumed_from: int | None = None
        self.saved_at: int | None = None  # the step of the checkpoint in FOLDER, if any
        self.started = time.perf_counter()
        self.last = self.started

    def train_time(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    # -- writing -----------------------------------------------------------------------------
    def maybe_save(self) -> None:
        """As a rollout starts: a checkpoint when ``every`` seconds have passed."""
        if time.perf_counter() - self.last >= self.every:
            self.save()

    def save(self) -> None:
        new, final, old = (self.out_dir / name for name in (FOLDER + ".new", FOLDER,
                                                              FOLDER + ".old"))
        shutil.rmtree(new, ignore_errors=True)
        new.mkdir(parents=True)
        model, callback, venv = self.run.model, self.run.callback, self.run.venv
        self._save_networks(model, new)
        buffer = getattr(model, "replay_buffer", None)
        if buffer is not None:  # chunks no step has written since the last one are linked
            since = None if self.saved_at is None else \
                (model.num_timesteps - self.saved_at) // max(model.n_envs, 1)
            _save_buffer(buffer, new / "buffer", final / "buffer", since)
        _save_normalisation(model.get_env(), new)
        from text2reward.analysis.trajectories import save_episodes

        save_episodes(new / "raw.npz", list(callback.raw))
        recorder, sharing = self.run.recorder, self.run.sharing
        if recorder is not None:  # its experience file holds what it recorded up to here
            recorder.save()
        state = {
            "fingerprint": self.key, "num_timesteps": int(model.num_timesteps),
            "n_updates": int(getattr(model, "_n_updates", 0)),
            "episode_num": int(getattr(model, "_episode_num", 0)),
            "train_time_s": self.train_time(),
            "callback": {name: getattr(callback, name) for name in CALLBACK_FIELDS},
            "finished": [dataclasses.asdict(e) for e in venv.finished],
            "components": list(venv._names),
            "learning_starts": getattr(model, "learning_starts", None),
            **({"recorded": recorder.recorded} if recorder is not None else {}),
            **({"sharing": sharing.state()} if sharing is not None else {}),
        }
        (new / "state.json").write_text(json.dumps(state, default=_plain))
        if final.exists():
            final.rename(old)
        new.rename(final)
        shutil.rmtree(old, ignore_errors=True)
        self.saved_at = int(model.num_timesteps)
        self.last = time.perf_counter()

    def _save_networks(self, model, folder: Path) -> None:
        if self.backend == "sbx":
            from flax import serialization

            (folder / "networks.msgpack").write_bytes(serialization.to_bytes(_sbx_states(model)))
        else:
            import torch

            torch.save(model.get_parameters(), folder / "networks.pt")

    # -- reading -----------------------------------------------------------------------------
    def restore(self) -> bool:
        """Put the last checkpoint (if any, and of this training) into the run; True if so."""
        folder = last(self.out_dir)
        try:
            state = json.loads((folder / "state.json").read_text()) if folder else None
        except (OSError, ValueError):
            state = None
        if state is None:
            remove(self.out_dir)
            return False
        if state.get("fingerprint") != self.key:
            remove(self.out_dir)  # another program, preset or seed: not this training's
            return False
        model, callback, venv = self.run.model, self.run.callback, self.run.venv
        self._load_networks(model, folder)
        _load_buffer(getattr(model, "replay_buffer", None), folder / "buffer")
        _load_normalisation(model.get_env(), folder)
        from text2reward.analysis.trajectories import load_episodes
        from text2reward.training.wrapper import EpisodeStats

        callback.raw = load_episodes(folder / "raw.npz")
        for name, value in state["callback"].items():
            setattr(callback, name, value)
        venv.finished = [EpisodeStats(**e) for e in state["finished"]]
        venv._names = list(state["components"])
        model.num_timesteps = int(state["num_timesteps"])
        model._n_updates = int(state["n_updates"])
        model._episode_num = int(state["episode_num"])
        if state.get("learning_starts") is not None:
            model.learning_starts = int(state["learning_starts"])
        if self.run.recorder is not None:
            self.run.recorder.resume(int(state["recorded"]))
        if self.run.sharing is not None:
            self.run.sharing.restore(state["sharing"])
        self.elapsed_before = float(state["train_time_s"])
        self.resumed_from = self.saved_at = model.num_timesteps
        return True

    def _load_networks(self, model, folder: Path) -> None:
        if self.backend == "sbx":
            from flax import serialization

            template = _sbx_states(model)
            restored = serialization.from_bytes(
                template, (folder / "networks.msgpack").read_bytes())
            for name, state in template["policy"].items():
                setattr(model.policy, name, state.replace(**_fields(restored["policy"][name])))
            for name, state in template["model"].items():
                setattr(model, name, state.replace(**_fields(restored["model"][name])))
            model.key = restored["key"]
            for name in ("actor", "qf", "vf"):  # the algorithm's own references
                if hasattr(model, name) and hasattr(model.policy, name):
                    setattr(model, name, getattr(model.policy, name))
        else:
            import torch

            params = torch.load(folder / "networks.pt", map_location=model.device,
                                weights_only=True)
            model.set_parameters(params, exact_match=True, device=model.device)


def _sbx_states(model) -> dict[str, Any]:
    """Everything an SBX algorithm learns: its policy's train states (networks, optimiser
    states, target networks), its own (SAC's entropy coefficient) and its random key."""
    from text2reward.training.backends import _states

    own = {name: value for name, value in sorted(vars(model).items())
           if name.endswith("_state") and hasattr(value, "params")}
    return {"policy": _states(model.policy), "model": own, "key": model.key}


def _fields(restored: Any) -> dict[str, Any]:
    """A restored train state's data fields (from_bytes gives the same dataclass back)."""
    return {f.name: getattr(restored, f.name) for f in dataclasses.fields(restored)
            if f.metadata.get("pytree_node", True)}


def _plain(value: Any) -> Any:
    """numpy scalars and arrays in callback state, as JSON."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to a checkpoint")


def _buffer_arrays(buffer) -> dict[str, np.ndarray]:
    n = buffer.buffer_size if buffer.full else buffer.pos
    arrays = {}
    for name in BUFFER_FIELDS:
        value = getattr(buffer, name, None)
        if isinstance(value, dict):  # a DictReplayBuffer's observations
            arrays.update({f"{name}/{key}": part[:n] for key, part in value.items()})
        elif isinstance(value, np.ndarray):
            arrays[name] = value[:n]
    return arrays


def _save_buffer(buffer, folder: Path, previous: Path, rows_since: int | None) -> None:
    """The replay buffer's filled rows as .npy files of at most CHUNK_BYTES each (a locked-down
    worker may not write a file over 512 MiB; 1M steps of Ant are 1.7 GB). ``rows_since``:
    the rows added since the checkpoint in ``previous`` (None: no such checkpoint); chunks
    none of them fell in are hard links to that checkpoint's files, not written again."""
    folder.mkdir()
    changed = _changed_rows(buffer, rows_since)
    files = {}
    for name, array in _buffer_arrays(buffer).items():
        rows = max(1, CHUNK_BYTES // max(array[:1].nbytes, 1))
        files[name] = []
        for i, start in enumerate(range(0, max(len(array), 1), rows)):
            file = f"{name.replace('/', '.')}.{i}.npy"
            end = min(start + rows, len(array))
            if changed is not None and not changed(start, end) and (previous / file).exists():
                os.link(previous / file, folder / file)
            else:
                np.save(folder / file, array[start:end])
            files[name].append(file)
    meta = {"pos": int(buffer.pos), "full": bool(buffer.full), "files": files}
    (folder / "buffer.json").write_text(json.dumps(meta))


def _changed_rows(buffer, rows_since: int | None):
    """A test of whether rows [start, end) of ``buffer`` were written in the last
    ``rows_since`` additions (they end at ``buffer.pos``, going round the ring); None: any."""
    if rows_since is None or rows_since >= buffer.buffer_size:
        return None
    first = (buffer.pos - rows_since) % buffer.buffer_size
    spans = [(first, buffer.pos)] if first <= buffer.pos else \
        [(first, buffer.buffer_size), (0, buffer.pos)]
    return lambda start, end: any(start < b and a < end for a, b in spans)


def _load_buffer(buffer, folder: Path) -> None:
    if buffer is None or not (folder / "buffer.json").exists():
        return
    meta = json.loads((folder / "buffer.json").read_text())
    for name, files in meta["files"].items():
        field, _, key = name.partition("/")
        target = getattr(buffer, field)
        target = target[key] if key else target
        start = 0
        for file in files:
            part = np.load(folder / file, allow_pickle=False)
            target[start:start + len(part)] = part
            start += len(part)
    buffer.pos, buffer.full = int(meta["pos"]), bool(meta["full"])


REWARD_NORM = "reward_norm.npz"


def _save_normalisation(env, folder: Path) -> None:
    """VecNormalize's statistics: the observations' as a policy keeps them beside it
    (normalize.ObsStats), the rewards' running return statistics here."""
    from stable_baselines3.common.vec_env import VecNormalize

    if not isinstance(env, VecNormalize):
        return
    stats = normalize.ObsStats.of(env)
    if stats is not None:
        stats.save(folder / normalize.FILE)
    ret = env.ret_rms
    np.savez(folder / REWARD_NORM, mean=np.asarray(ret.mean), var=np.asarray(ret.var),
             count=np.asarray(ret.count), returns=np.asarray(env.returns))


def _load_normalisation(env, folder: Path) -> None:
    from stable_baselines3.common.vec_env import VecNormalize

    if not isinstance(env, VecNormalize):
        return
    stats = normalize.ObsStats.load(folder / normalize.FILE)
    if stats is not None:
        stats.restore(env)
    elif env.norm_obs:  # never resumed without the statistics its policy was trained with
        raise FileNotFoundError(f"{folder / normalize.FILE} is missing")
    with np.load(folder / REWARD_NORM, allow_pickle=False) as data:
        env.ret_rms.mean, env.ret_rms.var = data["mean"].copy(), data["var"].copy()
        env.ret_rms.count = float(data["count"])
        if data["returns"].shape == np.shape(env.returns):
            env.returns = data["returns"].copy()
