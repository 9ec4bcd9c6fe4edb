"""The job a sandboxed worker runs: plain data, serialised as JSON across the process boundary."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_ENV_MODULE: list[str | None] = [None, None]


_SPEC_PATH: list[str | None] = [None]


def use_spec_path(path: str | None) -> None:
    """Make every Job created from now on load the user's spec file ``path`` (``--spec``)."""
    _SPEC_PATH[0] = path


def use_env_module(module: str | None, path: str | None = None) -> None:
    """Make every Job created from now on import ``module`` (found in folder ``path``, if
    given) before anything else (``--env-module``); None turns this off."""
    _ENV_MODULE[0], _ENV_MODULE[1] = module, path


@dataclass
class Job:
    """One unit of untrusted work: a runtime check or a training of one reward program."""

    kind: str  # "check", "train" or "success" (a proposed success file)
    env_id: str
    program_path: str
    out_dir: str
    task: str | None = None  # curated task name; None: the user's or the env's own score
    success_path: str | None = None  # a user's success file (score(episode), THRESHOLD)
    timesteps: int | None = None  # None: the preset's budget
    seed: int = 0
    n_envs: int | None = None
    device: str = "auto"
    backend: str | None = None  # "sb3" or "sbx" (training/backends.py); None: the preset's
    hyperparams: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 1800.0
    stop_when_solved: bool = False  # end training once training episodes reliably succeed
    checkpoint_every_s: float | None = None  # None: the preset's (training/checkpoint.py)
    pause_at: list[float] = field(default_factory=list)  # fractions where the run decides
    pool_path: str | None = None  # stored episodes (.npz) to score with the program (check)
    init_policy: str | None = None  # an SB3 policy .zip to start training from (warm start)
    # Shared experience (training/experience.py), for presets that learn from a replay buffer:
    # keep this training's transitions in its folder, and start from those of these files.
    record_experience: bool = False
    shared_experience: list[str] = field(default_factory=list)
    # ... and after each pause, what the other trainings of this run folder added since: where
    # trainings run one at a time (the budget bandit), so what they wrote is fixed
    experience_dir: str | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)  # the run's gym.make settings,
    # on top of the preset's (the spec's and the task's)
    # the user's package to import first (its gym.register calls) and the folder it is
    # imported from; default: what `use_env_module` set
    env_module: str | None = field(default_factory=lambda: _ENV_MODULE[0])
    env_module_path: str | None = field(default_factory=lambda: _ENV_MODULE[1])
    # a user's spec file of env_id (`--spec`); default: what `use_spec_path` set
    spec_path: str | None = field(default_factory=lambda: _SPEC_PATH[0])

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_file(cls, path: str | Path) -> Job:
        return cls(**json.loads(Path(path).read_text()))


# -- the stop protocol: files in the job's folder that the run writes and the training reads --
STOP_FILE = "stop"


def request_stop(folder: Path, reason: str) -> None:
    """Ask the training in ``folder`` to stop now (it is still evaluated and recorded)."""
    (Path(folder) / STOP_FILE).write_text(reason)


def stop_requested(folder: Path) -> str | None:
    """The reason a stop was requested for the training in ``folder``, or None."""
    path = Path(folder) / STOP_FILE
    if not path.exists():
        return None
    return path.read_text().strip() or "stopped by the run"


def decision_path(folder: Path, pause: float) -> Path:
    """Where the decision for a training paused at fraction ``pause`` is written."""
    return Path(folder) / f"decision-{pause:.2f}"
