"""Training presets: the spec's own, or rl-zoo3's tuned hyperparameters with ours on top.

A spec's ``training`` section may say where its hyperparameters come from::

    training:
      algo: PPO
      timesteps: 50000             # our budget; the zoo's n_timesteps is never used
      hyperparams_from: rl-zoo3    # or "rl-zoo3:HalfCheetah-v4" to borrow another id's entry
      zoo_overrides:               # CPU-fast overrides applied on top of the zoo's values
        n_epochs: 4
        batch_size: 512
      n_envs: 8                    # the fallback preset, used when rl_zoo3 is not installed
      hyperparams: {...}           # or has no entry for (algo, env id)

The zoo's YAML is read from the installed ``rl_zoo3`` package (``rl_zoo3/hyperparams/<algo>.yml``)
without importing it: rl_zoo3 pulls optuna, moviepy, huggingface and pins of its own, so it is
not a dependency; ``pip install rl_zoo3`` where those are welcome. Without it, or without an
entry, the spec's own preset is used unchanged.

Conversion of a zoo entry (everything else is passed to the algorithm as a hyperparameter):

- ``n_timesteps``: ignored (the spec's ``timesteps`` or ``--timesteps`` is the budget).
- ``policy``, ``n_envs``: the preset's policy and number of envs.
- ``lin_X`` (learning_rate, clip_range, ...): a linear schedule from X to 0 over training
  (``stable_baselines3.common.utils.LinearSchedule``), as the zoo does. Numeric strings
  (``"1e-3"``) become floats.
- ``policy_kwargs: "dict(...)"``: parsed without eval: literals, lists, nested ``dict(...)`` and
  ``nn.X`` / ``th.nn.X`` / ``torch.nn.X`` activation classes; anything else (a custom optimizer
  class) drops policy_kwargs with a note.
- ``train_freq: [n, "episode"]``: the tuple SB3 expects.
- ``normalize``: kept as the preset's ``normalize`` (true, or a dict of VecNormalize options
  parsed without eval): the policy trains on normalised observations and rewards while reward
  programs see raw features, and its observation statistics are saved beside it
  (``training/normalize.py``).
- ``env_wrapper``, ``vec_env_wrapper``, ``frame_stack``, ``callback``, ``noise_type``,
  ``noise_std``, ``replay_buffer_class``, ``replay_buffer_kwargs``, ``env_kwargs``, HER keys:
  dropped with a note (the trainer has no place for them).

The preset records where it came from: ``source`` ("spec" or "rl-zoo3:<algo>/<id>") and
``notes`` (what was dropped or why the zoo was not used).
"""

from __future__ import annotations

import ast
import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ZOO = "rl-zoo3"
DROPPED = {
    "normalize_kwargs": "VecNormalize's options come from 'normalize'",
    "env_wrapper": "env wrappers are not applied",
    "vec_env_wrapper": "vec env wrappers are not applied",
    "frame_stack": "frame stacking is not applied", "callback": "zoo callbacks are not used",
    "noise_type": "action noise is not configured", "noise_std": "action noise is not configured",
    "replay_buffer_class": "HER is not used", "replay_buffer_kwargs": "HER is not used",
    "env_kwargs": "the spec's env kwargs are used", "model_class": "HER is not used",
    "n_sampled_goal": "HER is not used", "goal_selection_strategy": "HER is not used",
    "online_sampling": "HER is not used", "max_episode_length": "HER is not used",
}


def zoo_dir() -> Path | None:
    """rl_zoo3's hyperparams folder when the package is installed (found, not imported)."""
    try:
        spec = importlib.util.find_spec("rl_zoo3")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "hyperparams"
    return folder if folder.is_dir() else None


@lru_cache(maxsize=32)
def _read_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def zoo_entry(algo: str, env_id: str, folder: Path | None = None) -> dict[str, Any] | None:
    """rl-zoo3's tuned entry for (algo, env id), or None (not installed, no file, no entry)."""
    folder = folder or zoo_dir()
    if folder is None:
        return None
    path = folder / f"{algo.lower()}.yml"
    if not path.is_file():
        return None
    entry = _read_yaml(path).get(env_id)
    return dict(entry) if isinstance(entry, dict) else None


# -- conversion --------------------------------------------------------------------------------
def _schedule(value: Any) -> Any:
    """``lin_X`` -> LinearSchedule(X -> 0); numeric strings -> float; anything else as is."""
    if not isinstance(value, str):
        return value
    if value.startswith("lin_"):
        from stable_baselines3.common.utils import LinearSchedule

        return LinearSchedule(start=float(value[4:]), end=0.0, end_fraction=1.0)
    try:
        return float(value)
    except ValueError:
        return value


class _Unsupported(ValueError):
    pass


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_literal(node.operand)
    if isinstance(node, ast.List | ast.Tuple):
        items = [_literal(n) for n in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" \
            and not node.args:
        return {kw.arg: _literal(kw.value) for kw in node.keywords}
    if isinstance(node, ast.Attribute):
        dotted = ast.unparse(node)
        for prefix in ("nn.", "th.nn.", "torch.nn."):
            if dotted.startswith(prefix) and dotted.count(".") == prefix.count("."):
                import torch.nn

                cls = getattr(torch.nn, dotted[len(prefix):], None)
                if isinstance(cls, type) and issubclass(cls, torch.nn.Module):
                    return cls
    raise _Unsupported(ast.unparse(node))


def parse_policy_kwargs(text: str) -> dict[str, Any]:
    """``"dict(net_arch=[64, 64], activation_fn=nn.Tanh)"`` -> a dict, without eval.

    Raises ValueError for anything beyond literals, dict(...) and torch.nn classes.
    """
    try:
        tree = ast.parse(" ".join(text.split()), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"policy_kwargs is not an expression: {exc}") from None
    try:
        value = _literal(tree.body)
    except _Unsupported as exc:
        raise ValueError(f"policy_kwargs uses {exc}, which is not supported") from None
    if not isinstance(value, dict):
        raise ValueError("policy_kwargs is not a dict")
    return value


def _normalize(value: Any) -> bool | dict[str, Any]:
    """rl-zoo3's ``normalize``: a bool, or a dict (often written as a string) of options."""
    if isinstance(value, str):
        try:
            value = _literal(ast.parse(value.strip(), mode="eval").body)
        except (SyntaxError, _Unsupported) as exc:
            raise ValueError(f"normalize {value!r} is not a literal") from exc
    if isinstance(value, dict):
        return dict(value)
    return bool(value)


def convert(entry: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A zoo entry as preset keys (policy, n_envs, hyperparams) plus notes on what was dropped."""
    preset: dict[str, Any] = {"hyperparams": {}}
    notes: list[str] = []
    for key, value in entry.items():
        if key == "n_timesteps":
            continue
        if key in ("policy", "n_envs"):
            preset[key] = value
        elif key == "normalize":
            try:
                preset[key] = _normalize(value)
            except ValueError as exc:
                preset[key] = True
                notes.append(f"zoo normalize options dropped ({exc}); defaults used")
        elif key in DROPPED:
            if value not in (False, None):
                notes.append(f"zoo {key}={value!r} dropped: {DROPPED[key]}")
        elif key == "policy_kwargs":
            try:
                preset["hyperparams"][key] = parse_policy_kwargs(value) if isinstance(value, str) \
                    else dict(value)
            except ValueError as exc:
                notes.append(f"zoo policy_kwargs dropped: {exc}")
        elif key == "train_freq" and isinstance(value, list):
            preset["hyperparams"][key] = tuple(value)
        else:
            preset["hyperparams"][key] = _schedule(value)
    return preset, notes


# -- the preset a worker trains with ------------------------------------------------------------
def build_preset(spec, task=None, folder: Path | None = None) -> dict[str, Any]:
    """The training preset of ``spec`` (with ``task``'s overrides): from rl-zoo3 when the spec
    asks for it and the zoo has an entry, else the spec's own. Always a fresh dict.

    A preset may name the SBX backend, for its speed; without SBX installed the same
    algorithm trains with SB3 (sb3-contrib), and a note says so."""
    preset = _build_preset(spec, task, folder)
    if preset["hyperparams"].get("policy_kwargs"):  # "torch.nn.ReLU" in a spec: the class
        preset["hyperparams"]["policy_kwargs"] = _torch_classes(
            preset["hyperparams"]["policy_kwargs"])
    if str(preset.get("backend") or "").lower() == "sbx" \
            and importlib.util.find_spec("sbx") is None:
        preset["backend"] = "sb3"
        preset["notes"].append('the preset trains with SBX, which is not installed: trained '
                               'with SB3 instead, slower (pip install "text2reward[sbx]")')
    return preset


def _build_preset(spec, task=None, folder: Path | None = None) -> dict[str, Any]:
    preset = spec.training_preset(task)
    source = preset.pop("hyperparams_from", None)
    overrides = preset.pop("zoo_overrides", None) or {}
    preset["source"], preset["notes"] = "spec", []
    if source is None:
        return preset
    name, _, zoo_id = str(source).partition(":")
    if name != ZOO:
        preset["notes"].append(f"unknown hyperparams_from {source!r}; using the spec's preset")
        return preset
    algo, zoo_id = preset.get("algo", "PPO"), zoo_id or spec.env_id
    entry = zoo_entry(algo, zoo_id, folder)
    if entry is None:
        why = "rl_zoo3 is not installed" if (folder or zoo_dir()) is None else \
            f"rl-zoo3 has no {algo} entry for {zoo_id}"
        preset["notes"].append(f"{why}; using the spec's preset")
        return preset
    zoo, notes = convert(entry)
    overrides = dict(overrides)
    task_training = dict(getattr(task, "training", None) or {})  # the task's word is last
    task_hp = dict(task_training.pop("hyperparams", {}))
    hyperparams = {**zoo.pop("hyperparams"), **overrides.pop("hyperparams", {}), **overrides,
                   **task_hp}
    for key in ("policy", "n_envs", "normalize"):  # top-level keys an override may set
        if key in hyperparams:
            zoo[key] = hyperparams.pop(key)
    preset.update(zoo)
    preset.update(task_training)
    preset.update(hyperparams=hyperparams, source=f"{ZOO}:{algo.lower()}/{zoo_id}", notes=notes)
    return preset


# -- how long a training may take --------------------------------------------------------------
BASE_TIME_LIMIT_S = 1800.0
SLOWEST_STEPS_PER_S = 25.0
"""The slowest training a default time limit allows for, a third of the slowest measured here:
on one loaded core a one-env PPO preset runs about 500 env steps per second (HalfCheetah run's
1M steps took 1,934 s) and SAC, with a gradient step per env step, about 80 (Ant walk's 300k
took 3,912 s). The limit catches a hung worker, never a slow one."""


def time_limit(spec, task=None, timesteps: int | None = None) -> float:
    """Seconds before a training of ``spec``'s preset (``timesteps`` env steps, or the preset's
    budget) is taken for hung and killed: 30 minutes plus one second per 25 env steps."""
    budget = timesteps or spec.training_preset(task).get("timesteps") or 0
    return BASE_TIME_LIMIT_S + float(budget) / SLOWEST_STEPS_PER_S


# -- the preset a policy was trained with -------------------------------------------------------
def trained_preset(folder: Path) -> dict[str, Any] | None:
    """The preset the policy in ``folder`` was trained with (its ``preset.json``, torch classes
    restored), or None for folders written before trainings kept it."""
    path = Path(folder) / "preset.json"
    if not path.is_file():
        return None
    preset = json.loads(path.read_text())
    hyperparams = preset.get("hyperparams") or {}
    if hyperparams.get("policy_kwargs"):
        hyperparams["policy_kwargs"] = _torch_classes(hyperparams["policy_kwargs"])
    return preset


def _torch_classes(value: Any) -> Any:
    """Names of torch classes (as preset.json writes them) back to the classes; torch's only,
    nothing else is imported."""
    if isinstance(value, dict):
        return {k: _torch_classes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_torch_classes(v) for v in value]
    if isinstance(value, str) and value.startswith("torch."):
        module, _, name = value.rpartition(".")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            return value
    return value
