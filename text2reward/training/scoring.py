"""The ground-truth score a training is judged by: a curated task's, a user's, or the env's own."""

from __future__ import annotations

import ast
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
    kind: str  # "task" (curated, hidden from the designer), "user", "proposed" (written by
    # the designer, --propose-success) or "env-return"
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
    if path.read_text(errors="replace").startswith(PROPOSED_MARK):
        return load_proposed_scorer(path.read_text(), str(path))
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


PROPOSED_MARK = "# text2reward: proposed success"  # first line of a proposed_success.py


def proposal_threshold(source: str) -> float | None:
    """The literal number a proposal sets THRESHOLD to (read, never executed); None if none."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "THRESHOLD" for t in stmt.targets):
            try:
                value = ast.literal_eval(stmt.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return None
            return float(value) if isinstance(value, int | float) \
                and not isinstance(value, bool) else None
    return None


def proposal_metric(source: str) -> str:
    """The first line of score's docstring (read, never executed)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "proposed score"
    doc = next((ast.get_docstring(s) for s in tree.body
                if isinstance(s, ast.FunctionDef) and s.name == "score"), None)
    return (doc or "proposed score").strip().splitlines()[0]


def load_proposed(source: str, filename: str = "<success>") -> Callable[[Episode], float]:
    """A proposed success file's score function: statically checked as reward programs are,
    then executed with the same vetted builtins. Raises RejectedProgram when refused."""
    from text2reward.critic.static import check_success_source
    from text2reward.critic.surface import safe_builtins
    from text2reward.program import RejectedProgram

    findings = check_success_source(source, filename)
    if findings:
        raise RejectedProgram(findings)
    namespace = {"__builtins__": safe_builtins(), "__name__": "proposed_success"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 (vetted above)
    return namespace["score"]


def load_proposed_scorer(source: str, filename: str) -> Scorer:
    """A proposal as a Scorer whose code is loaded on its first call only: a worker calls it
    after lock-down, and the run's own process never executes it."""
    loaded: list[Callable[[Episode], float]] = []

    def score(episode: Episode) -> float:
        if not loaded:
            loaded.append(load_proposed(source, filename))
        return loaded[0](episode)

    threshold = proposal_threshold(source)
    if threshold is None:
        raise UsageError(f"success file {filename} sets no numeric THRESHOLD")
    return Scorer(score, threshold, "proposed", proposal_metric(source))
