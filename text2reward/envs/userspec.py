"""A user's own spec file (``--spec FILE``) for any env id: checked, loaded, and written.

``load_spec_file`` checks a spec.yaml as the curated ones are written: the fields it may have,
each feature's source (an observation ``index`` that exists, a Dict ``key`` the observation
has, a simulator probe the model can read, an ``expr`` that computes), the training preset and
each task's success (a ``metric``, a ``threshold`` and a function of that name in the
``success.py`` next to the file). Every mistake is one line naming the file. ``skeleton``
writes a spec a user edits (``text2reward spec init``), from the automatic abstraction.
"""

from __future__ import annotations

import difflib
import keyword
import numbers
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from text2reward.envs.model import EnvSpec, load_module
from text2reward.envs.spec import check_env_id, parse_spec, use_spec
from text2reward.errors import UsageError
from text2reward.training import backends

TOP = ("id", "module", "requires", "summary", "action", "features", "conventions",
       "termination", "termination_when", "make_kwargs", "training", "tasks")
FEATURE = ("description", "unit", "index", "key", "expr", "sim")
TASK = ("description", "success", "family", "env_kwargs", "training")
SUCCESS = ("metric", "threshold")
TRAINING = ("algo", "backend", "timesteps", "n_envs", "eval_episodes", "normalize", "policy",
            "hyperparams", "hyperparams_from", "zoo_overrides")
FAMILY = ("components", "params", "combine")
ALGOS = tuple(dict.fromkeys(a.upper() for a in (*backends.ALGOS, *backends.SBX_ALGOS)))
RESERVED = ("obs",)  # attributes of `state` that are not features


def load_spec_file(path: str | Path, env_id: str | None = None, check_env: bool = True) -> EnvSpec:
    """The spec in ``path``, checked (with the env itself unless ``check_env`` is False) and
    made what ``load_spec`` returns for its id in this process. ``env_id``: the id the
    command names; the file must be for it. UsageError listing every mistake otherwise."""
    path = Path(path)
    raw = read_spec_yaml(path)
    mistakes = check_fields(raw)
    if env_id and isinstance(raw.get("id"), str) and raw["id"] != env_id:
        mistakes.insert(0, f"id: the spec is for {raw['id']!r}, not {env_id!r}")
    _raise(path, mistakes)
    spec = replace(parse_spec(path.resolve()), curated=False)
    if check_env:
        if spec.module:
            from text2reward.envs.modules import load_env_module

            load_env_module(spec.module)
        check_env_id(spec.env_id)
        _raise(path, check_against_env(spec) + check_success(spec, path))
    use_spec(spec)
    return spec


def read_spec_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UsageError(f"spec file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UsageError(f"{path}: not valid YAML{where}: "
                         f"{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: a spec is a mapping of id, summary, action, features, ...")
    return raw


def _raise(path: Path, mistakes: list[str]) -> None:
    if mistakes:
        raise UsageError("\n".join(f"{path}: {m}" for m in mistakes))


def _unknown(where: str, raw: dict, allowed: tuple[str, ...]) -> list[str]:
    out = []
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(allowed)}"
            out.append(f"{where}unknown field {key!r} ({hint})")
    return out


def _text(where: str, raw: dict, key: str, required: bool = True) -> list[str]:
    if key not in raw:
        return [f"{where}missing {key!r}"] if required else []
    return [] if isinstance(raw[key], str) and raw[key].strip() else [
        f"{where}{key!r} must be a non-empty text"]


def _mapping(where: str, value: Any) -> list[str]:
    return [] if isinstance(value, dict) else [f"{where}must be a mapping"]


def check_fields(raw: dict[str, Any]) -> list[str]:
    """Mistakes in the spec's fields and their types (no env needed)."""
    out = _unknown("", raw, TOP)
    for key in ("id", "summary", "action"):
        out += _text("", raw, key)
    for key in ("termination", "module", "requires"):
        out += _text("", raw, key, required=False)
    if "conventions" in raw and not (isinstance(raw["conventions"], list)
                                     and all(isinstance(c, str) for c in raw["conventions"])):
        out.append("conventions: must be a list of texts")
    if "make_kwargs" in raw:
        out += _mapping("make_kwargs: ", raw["make_kwargs"])
    for i, item in enumerate(raw.get("termination_when") or []):
        if not (isinstance(item, dict) and isinstance(item.get("settings"), dict)
                and isinstance(item.get("text"), str)):
            out.append(f"termination_when[{i}]: write settings: {{KEY: VALUE}} and text: ...")
    features = raw.get("features")
    if not isinstance(features, dict) or not features:
        out.append("features: missing; name at least one feature (index, key, expr or sim)")
    else:
        for name, feature in features.items():
            out += _check_feature(str(name), feature)
    out += _check_training("training: ", raw.get("training", {}))
    tasks = raw.get("tasks") or {}
    if not isinstance(tasks, dict):
        out.append("tasks: must be a mapping of task name to description and success")
    else:
        for name, task in tasks.items():
            out += _check_task(str(name), task)
    return out


def _check_feature(name: str, raw: Any) -> list[str]:
    where = f"feature {name}: "
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        return [f"{where}the name must be a Python identifier (state.{name} reads it)"]
    if name in RESERVED:
        return [f"{where}the name {name!r} is taken (state.{name} is the raw observation)"]
    if not isinstance(raw, dict):
        return [f"{where}must be a mapping of description, unit and index, key, expr or sim"]
    out = _unknown(where, raw, FEATURE) + _text(where, raw, "description")
    if "unit" in raw and not isinstance(raw["unit"], str):
        out.append(f"{where}'unit' must be a text (quote it)")
    sources = [k for k in ("index", "sim") if k in raw]
    if not sources and "expr" not in raw:
        out.append(f"{where}needs an 'index', an 'expr' or a 'sim' probe")
    if len(sources) > 1:
        out.append(f"{where}has both 'index' and 'sim': a feature reads one of them")
    if "sim" in raw and "key" in raw:
        out.append(f"{where}'key' reads the observation; a 'sim' feature reads the simulator")
    index = raw.get("index")
    if "index" in raw and not (_is_int(index) or (
            isinstance(index, list) and len(index) == 2 and all(_is_int(i) for i in index)
            and 0 <= index[0] <= index[1])):
        out.append(f"{where}'index' must be an entry (3) or a range [start, stop), "
                   f"got {index!r}")
    elif _is_int(index) and index < 0:
        out.append(f"{where}'index' must not be negative, got {index}")
    if "key" in raw and not isinstance(raw["key"], str):
        out.append(f"{where}'key' must be the name of a Dict observation entry")
    if "sim" in raw:
        from text2reward.envs.sim import Probe

        try:
            Probe.parse(str(raw["sim"]))
        except (UsageError, ValueError, KeyError) as exc:
            msg = str(exc) if isinstance(exc, UsageError) else f"bad simulator probe {raw['sim']!r}"
            out.append(f"{where}{msg}")
    if "expr" in raw:
        try:
            compile(str(raw["expr"]), f"feature {name}", "eval")
        except SyntaxError as exc:
            out.append(f"{where}'expr' is not a Python expression: {exc.msg}")
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_training(where: str, raw: Any) -> list[str]:
    if not isinstance(raw, dict):
        return [f"{where}must be a mapping"]
    out = _unknown(where, raw, TRAINING)
    if "algo" in raw and str(raw["algo"]).upper() not in ALGOS:
        out.append(f"{where}algo {raw['algo']!r} is not one of {', '.join(ALGOS)}")
    if "backend" in raw and raw["backend"] not in backends.BACKENDS:
        out.append(f"{where}backend {raw['backend']!r} is not one of "
                   f"{', '.join(backends.BACKENDS)}")
    for key in ("timesteps", "n_envs", "eval_episodes"):
        if key in raw and not (_is_int(raw[key]) and raw[key] > 0):
            out.append(f"{where}{key} must be a positive whole number, got {raw[key]!r}")
    for key in ("hyperparams", "zoo_overrides"):
        if key in raw and not isinstance(raw[key], dict):
            out.append(f"{where}{key} must be a mapping")
    return out


def _check_task(name: str, raw: Any) -> list[str]:
    where = f"task {name}: "
    if not isinstance(raw, dict):
        return [f"{where}must be a mapping of description and success"]
    out = _unknown(where, raw, TASK) + _text(where, raw, "description")
    success = raw.get("success")
    if success is None:
        out.append(f"{where}has no success: write success: {{metric: WHAT IT MEASURES, "
                   f"threshold: NUMBER}} and def {name.replace('-', '_')}(episode) in success.py")
    elif not isinstance(success, dict):
        out.append(f"{where}success must be a mapping of metric and threshold")
    else:
        out += _unknown(f"{where}success: ", success, SUCCESS)
        out += _text(f"{where}success: ", success, "metric")
        threshold = success.get("threshold")
        if not (isinstance(threshold, numbers.Real) and not isinstance(threshold, bool)):
            out.append(f"{where}success: 'threshold' must be a number, got {threshold!r}")
    family = raw.get("family")
    if family is not None:
        if not isinstance(family, dict) or not isinstance(family.get("components"), dict):
            out.append(f"{where}family: write components: {{NAME: {{expr: ..., weight: "
                       "[default, low, high]}}}}")
        else:
            out += _unknown(f"{where}family: ", family, FAMILY)
            for c, comp in family["components"].items():
                if not (isinstance(comp, dict) and "expr" in comp and isinstance(
                        comp.get("weight"), list) and len(comp["weight"]) == 3):
                    out.append(f"{where}family component {c}: write {{expr: ..., weight: "
                               "[default, low, high]}")
    if "env_kwargs" in raw:
        out += _mapping(f"{where}env_kwargs: ", raw["env_kwargs"])
    if "training" in raw:
        out += _check_training(f"{where}training: ", raw["training"])
    return out


def check_success(spec: EnvSpec, path: Path) -> list[str]:
    """Each task needs its function in the success.py next to the spec file."""
    if not spec.tasks:
        return []
    file = path.parent / "success.py"
    if not file.is_file():
        return [f"tasks need {file} with one function per task: "
                f"{', '.join(t.replace('-', '_') + '(episode)' for t in spec.tasks)}"]
    try:
        module = load_module(file, f"t2r_success_check_{abs(hash(str(file)))}")
    except Exception as exc:  # the user's file: any error is one line
        return [f"{file} cannot be loaded: {type(exc).__name__}: {exc}"]
    return [f"task {name}: {file} defines no function {name.replace('-', '_')}(episode)"
            for name in spec.tasks if not callable(getattr(module, name.replace("-", "_"), None))]


def check_against_env(spec: EnvSpec) -> list[str]:
    """Each feature computed on the env's first observation (made with the spec's
    make_kwargs): indexes in range, Dict keys present, probes the model can read."""
    import gymnasium as gym

    from text2reward.envs.layout import ObsLayout, StateLayout, parse_probe
    from text2reward.envs.sim import Gatherer

    try:
        env = gym.make(spec.env_id, **spec.make_kwargs)
    except Exception as exc:  # the user's env or make_kwargs
        return [f"cannot make {spec.env_id} with make_kwargs {spec.make_kwargs}: "
                f"{type(exc).__name__}: {exc}"]
    out = []
    try:
        obs, _ = env.reset(seed=0)
        try:
            obs_layout = ObsLayout.from_space(env.observation_space)
        except UsageError as exc:
            return [str(exc)]
        flat = obs_layout.flatten_one(obs)[None]
        sizes = dict(zip(obs_layout.keys or (), obs_layout.sizes, strict=False))
        for f in spec.features:
            where = f"feature {f.name}: "
            if f.sim is None:
                mistake = _index_mistake(f, obs_layout, sizes)
                if mistake:
                    out.append(where + mistake)
                    continue
            try:
                if f.sim is None:
                    value = StateLayout(obs_layout).feature(f, flat)
                else:
                    gatherer = Gatherer(env, [parse_probe(f.sim)])
                    layout = StateLayout(obs_layout, gatherer.layout())
                    value = layout.feature(f, layout.rows(obs_layout.as_rows(flat),
                                                          gatherer.gather()[None]))
                value = np.asarray(value, dtype=np.float64)
            except UsageError as exc:
                out.append(where + str(exc))
                continue
            except Exception as exc:  # a user's expr
                out.append(f"{where}cannot be computed: {type(exc).__name__}: {exc}")
                continue
            if value.ndim == 0 or value.shape[0] != 1:
                out.append(f"{where}gives shape {value.shape} for 1 env; a feature has one row "
                           "per env (an expr must keep the first axis)")
    finally:
        env.close()
    return out


def _index_mistake(f: Any, obs: Any, sizes: dict[str, int]) -> str | None:
    if f.key is not None:
        if obs.keys is None:
            return f"'key' {f.key!r}: the observation is not a Dict"
        if f.key not in sizes:
            return f"'key' {f.key!r} is not an entry of the observation ({', '.join(obs.keys)})"
        size, what = sizes[f.key], f"entry {f.key!r} has"
    elif obs.keys is not None:
        return None if f.expr is not None else (
            f"the observation is a Dict: name its entry with 'key' ({', '.join(obs.keys)})")
    else:
        size, what = obs.size, "the observation has"
    index = f.index
    if index is None:
        return None
    last = index[1] if isinstance(index, tuple) else index + 1
    if last > size:
        return (f"index {list(index) if isinstance(index, tuple) else index} is out of range: "
                f"{what} {size} entries (0 to {size - 1})")
    return None


# -- spec init ----------------------------------------------------------------------------------
class _Dumper(yaml.SafeDumper):
    """Multi-line texts as literal blocks, so the file reads as it will be edited."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=96, allow_unicode=True)


def skeleton(env_id: str, module: str | None = None) -> str:
    """A spec.yaml for ``env_id`` to edit: the automatic abstraction's observation entries
    (Dict keys), for MuJoCo the root joints' positions and velocities and the named bodies'
    positions and velocities, a training preset and a commented example task."""
    from text2reward.envs.auto import DEFAULT_TRAINING, auto_spec

    auto = auto_spec(env_id)
    features: dict[str, dict[str, Any]] = {}
    roots = _root_joints(env_id)
    def rank(f: Any) -> int:  # observation, root joints, bodies; -1: not in the skeleton
        if f.sim is None:
            return 0
        if f.sim.startswith(("qpos:", "qvel:")) and f.sim.split(":", 1)[1] in roots:
            return 1
        return 2 if f.sim.startswith(("pos:", "vel:")) else -1

    for f in sorted((f for f in auto.features if rank(f) >= 0), key=rank):
        entry: dict[str, Any] = {}
        if f.sim is not None:
            entry["sim"] = f.sim
        elif f.key is not None:
            entry["key"] = f.key
        if f.index is not None:
            entry["index"] = list(f.index) if isinstance(f.index, tuple) else f.index
        if f.expr is not None:
            entry["expr"] = f.expr
        entry["unit"] = f.unit
        entry["description"] = f.description
        features[f.name] = entry
    if not features:  # a large flat observation: one feature of all of it
        size = _obs_size(env_id)
        features["observation"] = {"index": [0, size], "unit": "",
                                   "description": f"(n_envs, {size}) the whole observation"}
    summary = auto.summary.split("\n\nThe env's own documentation")[0].replace(
        "an automatic abstraction (no curated spec)", "EDIT: what the env is, what moves, where "
        "forward is")
    head = {"id": env_id}
    if module:
        head["module"] = module
    head.update(summary=summary, action=auto.action)
    doc = auto.summary.partition("\n\nThe env's own documentation (its class docstring):\n")[2]
    training = {**DEFAULT_TRAINING, "hyperparams": dict(DEFAULT_TRAINING["hyperparams"])}
    training.update({k: v for k, v in auto.training.items() if k == "policy"})
    first = next(iter(features))
    lines = [
        f"# The spec of {env_id}: what the reward designer is told about the env.",
        f"# Edit it, then check it: text2reward envs {env_id} --spec THIS_FILE",
        f"# Use it: text2reward run --env {env_id} --spec THIS_FILE --task ... --model ...",
        "# Rename the features (state.NAME in reward programs) and give each a unit and a",
        "# description (signs, frames); drop the ones a reward never needs.",
        "# A feature reads: index (an observation entry, or [start, stop) entries), key (a Dict",
        "# observation's entry, with index), expr (numpy of `obs`, or of `value` with sim), or",
        "# sim (a MuJoCo probe: qpos:JOINT, qvel:JOINT, pos:BODY[:x|y|z], vel:BODY,",
        "# rpy:BODY:pitch, zaxis:BODY, contact:BODY, site:SITE, sensor:SENSOR; attr:NAME of",
        "# the unwrapped env).",
    ]
    if doc:
        lines += ["#", "# The env's own documentation (its class docstring):"]
        lines += [f"#   {line}".rstrip() for line in doc.splitlines()]
    body = [_dump(head), _dump({"features": features})]
    conventions = [c for c in auto.conventions  # those of features the skeleton lists
                   if not c.startswith(("<body>_roll", "<body>_angvel", "<body>_contact"))]
    if conventions:
        body.append(_dump({"conventions": conventions}))
    body.append(_dump({"termination": auto.termination.replace(
        "the env's own termination rules apply (not documented here)",
        "EDIT: what ends an episode early (falling, reaching the goal, ...)")}))
    body.append("# Training preset of every run on this env (a task may override it).\n"
                + _dump({"training": training}))
    body.append(_example_task(first))
    return "\n".join(lines) + "\n" + "\n".join(body)


def _example_task(feature: str) -> str:
    return f"""# Tasks with a ground-truth success (optional): each needs a function of its name in
# success.py next to this file, taking the finished episode and returning a score (higher is
# better; the task is solved at `threshold`). The episode has episode.features[NAME] (one row
# per state, the first and last included), episode.actions, episode.env_rewards,
# episode.length, episode.env_return, episode.terminated and episode.truncated. Example:
#
# tasks:
#   raise_{feature}:
#     description: make {feature} as large as possible
#     success:
#       metric: largest {feature} in the episode; solved at 1.0
#       threshold: 1.0
#
# and in success.py:
#
# import numpy as np
#
# def raise_{feature}(episode):
#     return float(np.max(episode.features["{feature}"]))
"""


def _root_joints(env_id: str) -> set[str]:
    """Names of the joints of a MuJoCo model's moving root bodies (empty for other envs)."""
    import gymnasium as gym

    env = gym.make(env_id)
    try:
        m = getattr(env.unwrapped, "model", None)
        if m is None or not hasattr(m, "nbody"):
            return set()
        import mujoco

        return {mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, j) or f"joint{j}"
                for j in range(m.njnt) if m.body_parentid[m.jnt_bodyid[j]] == 0}
    finally:
        env.close()


def _obs_size(env_id: str) -> int:
    import gymnasium as gym

    env = gym.make(env_id)
    try:
        return int(np.prod(env.observation_space.shape or (1,)))
    finally:
        env.close()
