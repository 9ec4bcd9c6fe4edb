"""Env specs on disk and the catalog: an env's named features, conventions, tasks, success
functions and presets (the types are in ``model.py``).

Specs live in ``envs/<EnvId>/`` as ``spec.yaml`` (data), ``success.py`` (one ground-truth
score function per task, never shown to the designer) and ``expert_<task>.py`` (a
human-written reward program per task).
"""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from text2reward.envs.model import EnvSpec, Family, Feature, Task, import_env_module
from text2reward.errors import UnknownEnvError, UsageError
from text2reward.paths import data_dir

__all__ = ["EnvSpec", "Family", "Feature", "Task", "check_env_id", "import_env_module",
           "list_specs", "load_spec", "parse_spec", "use_spec"]  # the types re-exported


def _parse_feature(name: str, raw: dict[str, Any]) -> Feature:
    index = raw.get("index")
    if isinstance(index, list):
        index = (int(index[0]), int(index[1]))
    if index is None and "expr" not in raw and "sim" not in raw:
        raise UsageError(f"feature {name!r} needs an 'index', an 'expr' or a 'sim' probe")
    return Feature(name, raw["description"], raw.get("unit", ""), index, raw.get("expr"),
                   raw.get("key"), raw.get("sim"))


def parse_spec(path: Path) -> EnvSpec:
    raw = yaml.safe_load(path.read_text())
    env_id = raw["id"]
    tasks = {}
    for name, t in raw.get("tasks", {}).items():
        fam = t.get("family")
        family = (Family(fam["components"], fam.get("params", {}), fam.get("combine", "sum"))
                  if fam else None)
        tasks[name] = Task(
            name=name,
            description=t["description"],
            success_threshold=float(t["success"]["threshold"]),
            success_metric=t["success"]["metric"],
            family=family,
            env_kwargs=t.get("env_kwargs", {}),
            env_id=env_id,
            spec_dir=path.parent,
            training=t.get("training", {}),
        )
    return EnvSpec(
        env_id=env_id,
        summary=raw["summary"].strip(),
        action=raw["action"].strip(),
        features=tuple(_parse_feature(n, f) for n, f in raw["features"].items()),
        conventions=tuple(raw.get("conventions", [])),
        termination=raw.get("termination", "").strip(),
        training=raw.get("training", {}),
        make_kwargs=raw.get("make_kwargs", {}),
        tasks=tasks,
        module=raw.get("module"),
        requires=raw.get("requires"),
        termination_when=tuple((dict(w["settings"]), " ".join(str(w["text"]).split()))
                               for w in raw.get("termination_when", [])),
    )


@cache
def _spec_files() -> dict[str, Path]:
    """Env id -> its spec.yaml (a folder is named after its id, '/' written as '__')."""
    root = data_dir("envs")
    return {p.parent.name.replace("__", "/"): p for p in sorted(root.glob("*/spec.yaml"))}


def list_specs() -> list[EnvSpec]:
    """Every curated spec shipped with text2reward."""
    return [load_spec(env_id) for env_id in _spec_files()]


_USER_SPECS: dict[str, EnvSpec] = {}  # env id -> a user's spec (`--spec FILE`), this process


def use_spec(spec: EnvSpec) -> None:
    """Make ``load_spec(spec.env_id)`` return ``spec`` (a user's spec file) in this process."""
    _USER_SPECS[spec.env_id] = spec


def load_spec(env_id: str) -> EnvSpec:
    """A user's spec of ``env_id`` (``use_spec``), else the curated one, else the automatic
    abstraction of any Gymnasium id (curated=False); unknown ids get a "did you mean" error."""
    if env_id in _USER_SPECS:
        return _USER_SPECS[env_id]
    files = _spec_files()
    if env_id in files:
        return _cached_spec(files[env_id])
    check_env_id(env_id)
    from text2reward.envs.auto import auto_spec

    return auto_spec(env_id)


@cache
def _cached_spec(path: Path) -> EnvSpec:
    spec = parse_spec(path)
    try:  # register the env id where the package is installed; use sites call prepare()
        spec.prepare()
    except UsageError:
        pass
    return spec


def check_env_id(env_id: str) -> None:
    """Raise UnknownEnvError with close matches when Gymnasium does not know ``env_id``."""
    import gymnasium as gym

    if env_id in gym.registry or env_id in _spec_files():
        return
    known = list(dict.fromkeys([*gym.registry, *_spec_files()]))  # each id once
    close = difflib.get_close_matches(env_id, known, n=3, cutoff=0.6)
    hint = (f"; did you mean {' or '.join(close)}?" if close
            else "; `text2reward envs` lists the known ones")
    raise UnknownEnvError(f"unknown env {env_id!r}{hint}")
