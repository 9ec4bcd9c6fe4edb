"""Observation and reward normalisation (SB3's VecNormalize), as rl-zoo3 trains MuJoCo with PPO.

A preset turns it on with ``normalize: true`` (or a dict of VecNormalize options, e.g.
``{norm_reward: false}``). It sits above the reward wrapper, so reward programs, success
functions and stored episodes always see raw features; only the policy sees normalised
observations (and learns from normalised rewards).

The observation statistics a policy was trained with are saved beside it as ``obs_norm.npz``
(plain arrays, read without pickle: a worker's outputs are not trusted), and every later use
of the policy (evaluation, rollouts, a warm start) normalises its observations the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FILE = "obs_norm.npz"


def options(preset: dict[str, Any]) -> dict[str, Any] | None:
    """VecNormalize's options for ``preset``, or None when it trains on raw observations."""
    value = preset.get("normalize")
    if not value:
        return None
    opts: dict[str, Any] = {"norm_obs": True, "norm_reward": True}
    if isinstance(value, dict):
        opts.update(value)
    opts.setdefault("gamma", preset.get("hyperparams", {}).get("gamma", 0.99))
    return opts


def wrap(venv, preset: dict[str, Any]):
    """``venv`` wrapped in VecNormalize when the preset asks for it; else ``venv`` itself."""
    opts = options(preset)
    if opts is None:
        return venv
    from stable_baselines3.common.vec_env import VecNormalize

    return VecNormalize(venv, **opts)


@dataclass
class ObsStats:
    """Running mean and variance of observations (one entry per dict key, or "" for a Box)."""

    mean: dict[str, np.ndarray]
    var: dict[str, np.ndarray]
    count: float
    clip: float
    epsilon: float

    def apply(self, obs: Any) -> Any:
        """Normalise an observation (or a batch) as VecNormalize did in training."""
        if isinstance(obs, dict):
            return {k: self._one(k, v) if k in self.mean else v for k, v in obs.items()}
        return self._one("", obs)

    def _one(self, key: str, value: Any) -> np.ndarray:
        scaled = (np.asarray(value) - self.mean[key]) / np.sqrt(self.var[key] + self.epsilon)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    @classmethod
    def of(cls, norm) -> ObsStats | None:
        """The statistics of a VecNormalize (None when it does not normalise observations)."""
        if not norm.norm_obs:
            return None
        rms = norm.obs_rms
        items = rms.items() if isinstance(rms, dict) else [("", rms)]
        return cls({k: np.array(r.mean) for k, r in items}, {k: np.array(r.var) for k, r in items},
                   float(next(iter(dict(items).values())).count), float(norm.clip_obs),
                   float(norm.epsilon))

    def save(self, path: Path) -> None:
        arrays = {f"mean/{k}": v for k, v in self.mean.items()}
        arrays.update({f"var/{k}": v for k, v in self.var.items()})
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, count=self.count, clip=self.clip, epsilon=self.epsilon, **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> ObsStats | None:
        """The statistics saved at ``path``; None when there are none (raw observations)."""
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as data:
            mean = {k[5:]: data[k] for k in data.files if k.startswith("mean/")}
            var = {k[4:]: data[k] for k in data.files if k.startswith("var/")}
            return cls(mean, var, float(data["count"]), float(data["clip"]),
                       float(data["epsilon"]))

    def restore(self, norm) -> None:
        """Start a VecNormalize from these statistics (a warm start)."""
        rms = norm.obs_rms
        for key, r in (rms.items() if isinstance(rms, dict) else [("", rms)]):
            if key in self.mean and r.mean.shape == self.mean[key].shape:
                r.mean, r.var, r.count = self.mean[key].copy(), self.var[key].copy(), self.count


def beside(policy: Path | str) -> Path:
    """Where the observation statistics of the policy saved at ``policy`` are:
    ``policy.zip`` -> ``obs_norm.npz``, ``best_policy.zip`` -> ``best_obs_norm.npz``."""
    policy = Path(policy)
    prefix = policy.stem[: -len("policy")] if policy.stem.endswith("policy") else policy.stem + "_"
    return policy.with_name(prefix + FILE)
