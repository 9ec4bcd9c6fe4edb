"""Reward programs: load a vetted program and call it under the fixed contract."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from text2reward.critic.static import ENTRY_POINT, Finding, check_source
from text2reward.critic.surface import safe_builtins
from text2reward.errors import ProgramError


class RewardFault(RuntimeError):
    """The reward program failed when called (exception, bad shape, NaN or inf)."""


TRAINING_FAULT = "reward failed during training: "  # how a training's fault is reported
# what a message about a NaN or inf term tells the model to do
NONFINITE_FIX = ("guard the term: np.clip the argument of sqrt/log/arccos into its domain, add a "
                 "small eps to divisors")


def validate_output(reward: np.ndarray, components: dict[str, Any], n_envs: int,
                    finite: bool = True) -> None:
    """Raise RewardFault unless the reward and every component are finite arrays of (n_envs,).

    Finiteness is checked through the sum (NaN and inf propagate), once per array. With
    ``finite=False`` only shapes and types are checked: the caller checks finiteness itself
    (the reward wrapper does, on its running per-episode sums, instead of on every step).
    """
    if reward.shape != (n_envs,):
        raise RewardFault(f"reward has shape {reward.shape}, expected ({n_envs},): "
                          f"one value per env; {shape_hint(reward.shape, n_envs)}")
    if finite and not math.isfinite(reward.sum()):
        raise RewardFault("reward contains NaN or inf; guard divisions and logs (np.clip, eps)")
    for name, value in components.items():
        if type(value) is not np.ndarray:
            value = np.asarray(value)
        if value.shape != (n_envs,):
            raise RewardFault(f"component {name!r} has shape {value.shape}, expected "
                              f"({n_envs},); {shape_hint(value.shape, n_envs)}")
        if value.dtype.kind not in "fiub" or finite and not math.isfinite(value.sum()):
            raise RewardFault(f"component {name!r} is not a finite number array")


def shape_hint(shape: tuple[int, ...], n: int) -> str:
    """What usually produces a wrong shape, and the fix."""
    if shape == ():
        return ("a single number: a reduction over the whole batch (np.sum / np.mean / max "
                "without axis=-1) or a constant; keep one value per env (axis=-1, or "
                "np.full_like(next_state.<feature>, c, dtype=float) for a constant)")
    if shape == (n, n):
        return (f"an ({n}, 1) array (keepdims=True or [:, None]) was combined with an ({n},) "
                "array; reduce with axis=-1 and without keepdims")
    if len(shape) == 2 and shape[0] == n:
        return ("a vector per env: reduce it over the last axis (np.sum(x, axis=-1), "
                "np.linalg.norm(x, axis=-1)) or take one column (x[:, i])")
    if len(shape) == 1 and shape[0] != n:
        return ("the first axis must be the batch of envs: index features as x[:, i], not "
                "x[i], and reduce over axis=-1, not axis=0")
    return "every feature's first axis is the batch of envs; keep it"


class RejectedProgram(Exception):
    """The static critic refused the program; ``findings`` says why."""

    def __init__(self, findings: list[Finding]):
        super().__init__("; ".join(str(f) for f in findings))
        self.findings = findings


def code_hash(source: str) -> str:
    """Short stable hash of a program's text (normalised line endings and trailing space)."""
    text = "\n".join(line.rstrip() for line in source.strip().splitlines())
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def read_program(path: str | Path) -> str:
    """Read a reward program file, with a usage error naming the fix when it cannot be read."""
    path = Path(path)
    try:
        return path.read_text()
    except FileNotFoundError:
        raise ProgramError(f"reward file {path} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProgramError(f"cannot read reward file {path}: {exc}") from None


@dataclass
class RewardProgram:
    """A statically accepted program, executed against the vetted numpy surface."""

    source: str
    fn: Callable[..., Any]

    @property
    def hash(self) -> str:
        return code_hash(self.source)

    @classmethod
    def load(cls, source: str, filename: str = "<reward>") -> RewardProgram:
        """Check ``source`` with the static critic, then execute it in a fresh namespace.

        Raises RejectedProgram when the static critic refuses it. Top-level code of an
        accepted program is only imports, constants and definitions.
        """
        findings = check_source(source, filename)
        if findings:
            raise RejectedProgram(findings)
        namespace: dict[str, Any] = {"__builtins__": safe_builtins(), "__name__": "reward_program"}
        exec(compile(source, filename, "exec"), namespace)  # noqa: S102 (vetted above)
        return cls(source, namespace[ENTRY_POINT])

    def __call__(self, state: Any, action: Any, next_state: Any) -> tuple[np.ndarray, dict]:
        """Call the program and normalise its result to (float64 rewards, components)."""
        result = self.fn(state, action, next_state)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError("compute_reward must return a tuple (reward, components)")
        reward, components = result
        if not isinstance(components, dict):
            raise TypeError("components must be a dict of name -> array, "
                            f"got {type(components).__name__}")
        return np.asarray(reward, dtype=np.float64), components
