"""The ground-truth score a training is judged by: a curated task's, a user's, or the env's own."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from text2reward.envs.spec import EnvSpec
from text2reward.envs.state import Episode
from text2reward.errors import UsageError


@dataclass(frozen=True)
class Scorer:
    """A score function of one episode, its success threshold and where it came from."""

    fn: Callable[[Episode], float]
    threshold: float | None
    kind: str  # "task" (curated, hidden from the designer), "user", or "env-return"
    metric: str


ENV_RETURN_METRIC = ("the env's own episode return (no success criterion: candidates are ranked "
                     "by it, with no threshold)")


def _env_return(ep: Episode) -> float:
    return ep.env_return


def load_scorer(spec: EnvSpec, task: str | None, success_path: str | None) -> Scorer:
    """Resolve the score a training is measured with."""
    if success_path:
        return load_user_scorer(success_path)
    if task is not None:
        t = spec.tasks[task]
        return Scorer(t.score_fn(), t.success_threshold, "task", t.success_metric)
    return Scorer(_env_return, None, "env-return", ENV_RETURN_METRIC)


def load_user_scorer(path: str | Path) -> Scorer:
    """Load a user's success file: ``def score(episode) -> float`` and optional ``THRESHOLD``."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"success file {path} does not exist; pass a file defining score(episode)")
    module_spec = importlib.util.spec_from_file_location("t2r_user_success", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        raise UsageError(f"success file {path} failed to load: "
                         f"{type(exc).__name__}: {exc}") from None
    if not callable(getattr(module, "score", None)):
        raise UsageError(f"success file {path} must define score(episode) -> float")
    threshold = getattr(module, "THRESHOLD", None)
    metric = (module.score.__doc__ or "user-defined score").strip().splitlines()[0]
    return Scorer(module.score, None if threshold is None else float(threshold), "user", metric)
