"""The data model of an env spec: its features, tasks, offline reward families and the spec
itself (``spec.py`` reads them from ``envs/<EnvId>/``; ``auto.py`` builds them for any id)."""

from __future__ import annotations

import copy
import difflib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from text2reward.errors import UsageError


@dataclass(frozen=True)
class Feature:
    """One named quantity of the state, computed from the raw observation batch."""

    name: str
    description: str
    unit: str = ""
    index: int | tuple[int, int] | None = None  # obs column, or [start, stop) columns
    expr: str | None = None  # numpy expression of `obs` (of `value` for a sim feature)
    key: str | None = None  # dict observations: the key `index` reads
    sim: str | None = None  # simulator probe ("pos:torso", "qpos:rooty", see envs/sim.py)

    def extract(self, obs: np.ndarray) -> np.ndarray:
        """Return this observation feature for a batch of flat observations (n, obs_dim).

        Simulator features are computed from state rows instead (``StateLayout.feature``)."""
        if self.sim is not None:
            raise UsageError(f"feature {self.name!r} reads the simulator, not the observation")
        if self.expr is not None:
            return eval(self.expr, {"np": np, "obs": obs})  # noqa: S307 (spec code is ours)
        if isinstance(self.index, tuple):
            return obs[:, self.index[0] : self.index[1]]
        return obs[:, self.index]


@dataclass(frozen=True)
class Family:
    """A parametrised reward program: weighted components whose weights and params evolve."""

    components: dict[str, dict[str, Any]]  # name -> {expr, weight: [default, low, high]}
    params: dict[str, list[float]] = field(default_factory=dict)  # name -> [default, low, high]
    combine: str = "sum"


@dataclass(frozen=True)
class Task:
    """A behaviour to learn in an env, with a ground-truth score the designer never sees."""

    name: str
    description: str
    success_threshold: float
    success_metric: str  # what the score measures, in words (for reports, not prompts)
    family: Family | None
    env_kwargs: dict[str, Any]
    env_id: str
    spec_dir: Path
    training: dict[str, Any] = field(default_factory=dict)  # overrides of the env's preset

    @property
    def key(self) -> str:
        return f"{self.env_id}:{self.name}"

    def score_fn(self) -> Callable[[Any], float]:
        """The task's ground-truth score of one Episode (higher is better)."""
        module = load_module(self.spec_dir / "success.py", f"t2r_success_{self.env_id}")
        fn = getattr(module, self.name.replace("-", "_"), None)
        if fn is None:
            raise UsageError(f"{self.spec_dir / 'success.py'} defines no function {self.name!r}")
        return fn

    @property
    def expert_path(self) -> Path:
        return self.spec_dir / f"expert_{self.name}.py"


@dataclass(frozen=True)
class EnvSpec:
    """The documented abstraction of one Gymnasium env."""

    env_id: str
    summary: str
    action: str
    features: tuple[Feature, ...]
    conventions: tuple[str, ...]
    termination: str
    training: dict[str, Any]
    make_kwargs: dict[str, Any]
    tasks: dict[str, Task]
    curated: bool = True
    module: str | None = None  # imported before the env is made (its gym.register calls run)
    requires: str | None = None  # what to install when `module` is missing, in words
    # (settings, text): what ends an episode when every listed setting has that value
    termination_when: tuple[tuple[dict[str, Any], str], ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)  # env kwargs in force, shown to the
    # designer (set by `under`; empty: the spec's own)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @cached_property
    def feature_map(self) -> dict[str, Feature]:
        """Features by name (built once: state views look features up on every step)."""
        return {f.name: f for f in self.features}

    @property
    def probes(self) -> list[Any]:
        """The simulator probes of the spec's features (empty: every feature is in the obs)."""
        from text2reward.envs.sim import parse_probe

        return list(dict.fromkeys(parse_probe(f.sim) for f in self.features if f.sim))

    def prepare(self) -> None:
        """Import the env's package so Gymnasium knows its id; a clear error when missing."""
        if self.module:
            import contextlib
            import io
            import warnings

            quiet = io.StringIO()
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet), \
                    warnings.catch_warnings():
                warnings.simplefilter("ignore")  # packages that print or warn on import
                import_env_module(self.module, self.requires)

    def task(self, text: str) -> Task | None:
        """Find a task by name or by its description (case and spacing ignored)."""
        wanted = normalise(text)
        for task in self.tasks.values():
            if wanted in (normalise(task.name), normalise(task.description)):
                return task
        descriptions = {normalise(t.description): t for t in self.tasks.values()}
        close = difflib.get_close_matches(wanted, list(descriptions), n=1, cutoff=0.9)
        return descriptions[close[0]] if close else None

    def close_tasks(self, text: str) -> list[str]:
        """Curated task names ``text`` probably means ('backflip', 'make the hopper do a back
        flip' -> back_flip), best first: a name written inside the text (spaces and
        underscores aside), else a name or description close to the text (difflib)."""
        words = normalise(text).split()
        scores: dict[str, float] = {}
        for task in self.tasks.values():
            name = normalise(task.name).split()
            spans = ("".join(words[i:i + n]) for n in range(1, len(name) + 2)
                     for i in range(len(words) - n + 1))
            if "".join(name) in spans:
                scores[task.name] = 2.0
                continue
            ratio = max(difflib.SequenceMatcher(None, " ".join(words), target).ratio()
                        for target in (" ".join(name), normalise(task.description)))
            if ratio >= 0.6:
                scores[task.name] = ratio
        return sorted(scores, key=lambda n: -scores[n])

    def training_preset(self, task: Task | None) -> dict[str, Any]:
        """The env's training preset with the task's overrides applied."""
        preset = copy.deepcopy(self.training)  # callers (and SB3) may mutate nested dicts
        preset["hyperparams"] = preset.get("hyperparams", {})
        if task is not None:
            overrides = copy.deepcopy(task.training)
            if overrides.get("algo", preset.get("algo")) != preset.get("algo"):
                preset["hyperparams"] = {}  # another algorithm: none of the env's settings apply
            preset["hyperparams"].update(overrides.pop("hyperparams", {}))
            preset.update(overrides)
        preset["env_kwargs"] = self.env_kwargs(task)
        return preset

    def env_kwargs(self, task: Task | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The kwargs of ``gym.make``: the spec's, the task's, then a run's (``extra``)."""
        kwargs = dict(self.make_kwargs)
        if task is not None:
            kwargs.update(task.env_kwargs)
        kwargs.update(extra or {})
        return kwargs

    def under(self, kwargs: dict[str, Any]) -> EnvSpec:
        """This spec as the designer sees it when the env is made with ``kwargs``: the
        settings that differ from the spec's own are listed, and the termination text is the
        one written for them (with a caveat naming settings no text covers)."""
        settings = {k: v for k, v in kwargs.items()
                    if k not in self.make_kwargs or self.make_kwargs[k] != v}
        termination, covered = self.termination, set()
        for when, text in self.termination_when:
            if all(k in kwargs and kwargs[k] == v for k, v in when.items()):
                termination, covered = text, set(when)
                break
        others = [k for k in settings if k not in covered]
        if others and termination:
            listed = ", ".join(f"{k}={settings[k]!r}" for k in others)
            termination += (f" (Written for the default settings: {listed} may change what "
                            "ends an episode.)")
        return replace(self, termination=termination, settings=settings)


def normalise(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split()).rstrip(".")


def load_module(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def import_env_module(module: str, requires: str | None = None) -> None:
    """Import a package whose import registers Gymnasium envs (``--env-module``, spec modules)."""
    import importlib

    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module.startswith(exc.name.split(".")[0]):
            raise
        hint = f"; install it: {requires}" if requires else ""
        raise UsageError(f"the env module {module!r} is not installed{hint}") from None
