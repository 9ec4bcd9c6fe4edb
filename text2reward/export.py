"""Export a run's best reward as a standalone package: the program, the env's feature
extraction, a Gymnasium wrapper and an SB3 VecEnv wrapper.

The exported package depends only on numpy and gymnasium (stable-baselines3 for the VecEnv
wrapper, imported when it is first used; the simulator's package, e.g. mujoco, for features
read from the simulator), never on text2reward, so it drops into a plain SB3 or CleanRL
script. Its files:

- ``reward.py``: the reward program, copied verbatim;
- ``features.py``: every feature of the env spec as numpy code generated from the spec (an
  observation index or expression, a dict observation key, or a simulator probe);
- ``sim.py``: text2reward's ``envs/sim.py`` itself (probe parsing, gathering of the raw
  simulator arrays from ``env.unwrapped``, and the probe maths), so that exported features
  read from the simulator are the values text2reward computed in training;
- ``views.py``: text2reward's read-only dict observation view (``state.obs``);
- ``settings.py``: the env id and kwargs, the training preset and where the program came from;
- ``wrappers.py``, ``vec_env.py``, ``__init__.py`` and ``train_sb3.py``: fixed files from
  ``export-template/`` next to this module.

Copied sources must not import text2reward: the one import of ``envs/sim.py`` (its error
class) is replaced by a local class, and any other import of text2reward stops the export.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import json
import pprint
import re
from pathlib import Path
from string import Template

from text2reward.envs import sim, state
from text2reward.envs.spec import EnvSpec, Feature, import_env_module, load_spec
from text2reward.errors import UsageError
from text2reward.report import Run
from text2reward.store import atomic_write

PACKAGE = "exported_reward"
TEMPLATE = Path(__file__).with_name("export-template")
_STATIC = ("__init__.py", "wrappers.py", "vec_env.py")  # files of the package, copied as is
_T2R_IMPORT = re.compile(r"^\s*(from|import)\s+text2reward\b", re.M)
_USAGE_ERROR = "from text2reward.errors import UsageError\n"
_LOCAL_USAGE_ERROR = (
    "class UsageError(ValueError):\n"
    '    """A probe or a model that cannot be read (text2reward.errors.UsageError there)."""\n'
)


def export_run(run_dir: Path, to: Path | None = None) -> Path:
    """Write the package ``exported_reward`` and a README into ``to`` (default RUN_DIR/export)."""
    run = Run(Path(run_dir))
    best_file = run.root / "best_reward.py"
    if run.best is None or not best_file.is_file():
        raise UsageError(
            f"{run.root} has no best reward yet (no candidate was trained); nothing to export"
        )
    user_module = run.config.get("env_module")  # the run's --env-module: registers its env
    if user_module:
        import_env_module(user_module)
    spec = load_spec(run.summary["env"])
    key = run.summary.get("task_key")
    task = spec.tasks.get(key.split(":", 1)[1]) if key else None
    env_module, env_source = _env_module(spec.module or user_module)
    out = Path(to) if to is not None else run.root / "export"
    package = out / PACKAGE
    files = {
        "settings.py": _settings(spec, task, run, env_module),
        "reward.py": best_file.read_text(),
        "features.py": feature_module(spec),
        "sim.py": sim_module(),
        "views.py": views_module(),
    }
    if env_source is not None:
        files["registration.py"] = env_source
    for name in _STATIC:
        files[name] = (TEMPLATE / PACKAGE / name).read_text()
    for name, text in files.items():
        atomic_write(package / name, text)
    atomic_write(out / "README.md", _readme(spec, run, env_module))
    atomic_write(out / "train_sb3.py", (TEMPLATE / "train_sb3.py").read_text())
    return out


def _settings(spec: EnvSpec, task, run: Run, env_module: str | None) -> str:
    values = {
        "ENV_ID": spec.env_id,
        "ENV_KWARGS": spec.env_kwargs(task, run.config.get("env_kwargs")),  # the run's too
        "ENV_MODULE": env_module,
        "ENV_REQUIRES": spec.requires if env_module and not env_module.startswith(".") else None,
        "TASK": run.summary.get("task"),
        "SCORE": run.best.get("score"),
        "SUCCESS": run.best.get("success"),
        "SOURCE_RUN": str(run.root.resolve()),
        "TRAINING": _training(spec, task),
    }
    comments = {
        "ENV_MODULE": "  # imported first: its import registers ENV_ID with Gymnasium",
        "SCORE": "  # the task score the run measured for this program",
        "TRAINING": "  # the training preset text2reward used",
    }
    lines = ['"""The env this reward was trained on, and the run it came from (generated)."""', ""]
    for name, value in values.items():
        lines.append(f"{name} = {pprint.pformat(value, sort_dicts=False)}{comments.get(name, '')}")
    return "\n".join(lines) + "\n"


def _training(spec: EnvSpec, task) -> dict:
    """The env's training preset, for scripts that want the settings text2reward used."""
    preset = spec.training_preset(task)
    keys = ("algo", "policy", "n_envs", "timesteps", "normalize", "hyperparams")
    return {k: preset[k] for k in keys if k in preset}


def _env_module(module: str | None) -> tuple[str | None, str | None]:
    """The module the package imports to register the env id (the spec's, or the run's
    ``--env-module``), and for ids that text2reward itself registers (adapters), that
    module's source, bundled as ``registration.py``."""
    if not module:
        return None, None
    if module.split(".")[0] != "text2reward":
        return module, None
    source = inspect.getsource(importlib.import_module(module))
    return ".registration", _standalone(source, module)


def _standalone(source: str, what: str) -> str:
    """``source`` for the exported package: it must not import text2reward."""
    if _T2R_IMPORT.search(source):
        raise UsageError(f"cannot export: {what} imports text2reward, and the exported package "
                         "must not need it")
    return source


def sim_module() -> str:
    """``envs/sim.py``, standalone: probes, gathering and probe maths, as text2reward's."""
    source = inspect.getsource(sim).replace(_USAGE_ERROR, _LOCAL_USAGE_ERROR, 1)
    header = "# Copied from text2reward/envs/sim.py by `text2reward export` (do not edit).\n"
    return header + _standalone(source, "text2reward/envs/sim.py")


def views_module() -> str:
    """The read-only view of dict observations (``state.obs``), as text2reward's."""
    parts = [inspect.getsource(state._frozen), inspect.getsource(state.ObsView)]
    lines = [
        '"""Read-only views of observation batches (copied from text2reward/envs/state.py)."""',
        "",
        "from __future__ import annotations",
        "",
        "import numpy as np",
        "",
        "",
        "\n\n".join(parts),
    ]
    return _standalone("\n".join(lines), "text2reward/envs/state.py")


def feature_module(spec: EnvSpec) -> str:
    """Python source of the features of ``spec``: one function per feature, plain numpy code,
    ``COMPUTE`` (name -> function) and ``extract(obs, sim=None)``."""
    probes = list(dict.fromkeys(f.sim for f in spec.features if f.sim))
    lines = [
        f'"""Named features of {spec.env_id} states (generated from its text2reward spec).',
        "",
        "Each feature is a function of ``obs``, the observation batch as float64 columns (see",
        "``observation_columns``), and ``sim``, the states' simulator vectors (a",
        "``wrappers.Simulator``), for features read from the simulator.",
        '"""',
        "",
        "from collections.abc import Mapping",
        "",
        "import numpy as np",
        "",
        f"FEATURES = {_tuple(spec.feature_names)}",
        "# the simulator probes the features read (see sim.py)",
        f"PROBES = {_tuple(probes)}",
        "",
        "",
        "def observation_columns(obs):",
        '    """A batch of observations as float64 columns (new arrays): (n, size); a dict',
        '    observation: {key: (n, size_k)} for each numeric key."""',
        "    if isinstance(obs, Mapping):",
        "        return {k: _columns(v) for k, v in obs.items() if np.asarray(v).dtype.kind in "
        '"biuf"}',
        "    return _columns(obs)",
        "",
        "",
        "def _columns(values):",
        "    values = np.array(values, dtype=np.float64)",
        "    return values.reshape(len(values), -1)",
    ]
    if probes:
        lines += [
            "",
            "",
            "def probe(sim, text):",
            '    """The value of simulator probe ``text`` for the states of ``sim``."""',
            "    if sim is None:",
            '        raise ValueError(f"probe {text!r} reads the simulator: pass the states\' "',
            '                         "Simulator (the wrappers do)")',
            "    return sim.probe(text)",
        ]
    names = {}
    for i, feature in enumerate(spec.features):
        name = f"feature_{feature.name}" if feature.name.isidentifier() else f"feature_{i}"
        names[feature.name] = name
        unit = f" [{_one_line(feature.unit)}]" if feature.unit else ""
        lines += ["", "", f"def {name}(obs, sim):",
                  f"    # {_one_line(feature.description)}{unit}"]
        lines += [f"    {line}" for line in _feature_code(feature)]
    lines += ["", "", "COMPUTE = {"]
    lines += [f"    {json.dumps(n)}: {f}," for n, f in names.items()]
    lines += [
        "}",
        "",
        "",
        "def extract(obs, sim=None):",
        '    """Every named feature of a batch of observations (and their simulator vectors)."""',
        "    columns = observation_columns(obs)",
        "    return {name: feature(columns, sim) for name, feature in COMPUTE.items()}",
        "",
    ]
    return "\n".join(lines)


def _feature_code(feature: Feature) -> list[str]:
    """The body of a feature's function, computing what text2reward computes from rows."""
    if feature.sim is not None:  # envs/layout.py: the probe's value, then `expr` of `value`
        read = f"probe(sim, {json.dumps(feature.sim)})"
        if feature.expr is None:
            return [f"return {read}"]
        return [f"value = {read}", f"return ({feature.expr})"]
    columns = "obs" if feature.key is None else f"obs[{json.dumps(feature.key)}]"
    if feature.expr is None:  # columns of the observation, or of a dict observation's key
        if isinstance(feature.index, tuple):
            return [f"return {columns}[:, {feature.index[0]}:{feature.index[1]}]"]
        return [f"return {columns}[:, {feature.index}]"]
    if feature.key is not None:  # an expression of a key's columns, named `obs`
        return [f"obs = {columns}", f"return ({feature.expr})"]
    # an expression of the observation; a dict observation's may name its keys
    lines = [f"{n} = obs[{json.dumps(n)}]" for n in _free_names(feature.expr)]
    return [*lines, f"return ({feature.expr})"]


def _free_names(expr: str) -> list[str]:
    """Names an expression reads other than ``np``, ``obs`` and builtins: dict obs keys."""
    names = [n.id for n in ast.walk(ast.parse(expr, mode="eval")) if isinstance(n, ast.Name)]
    return [n for n in dict.fromkeys(names) if n not in ("np", "obs") and not hasattr(builtins, n)]


def _tuple(items: list[str]) -> str:
    """A tuple of strings, one a line."""
    return "(" + "".join(f"\n    {json.dumps(i)}," for i in items) + ("\n)" if items else ")")


def _readme(spec: EnvSpec, run: Run, env_module: str | None) -> str:
    probes = any(f.sim for f in spec.features)
    needs = []
    if probes and not all(f.sim.startswith("attr:") for f in spec.features if f.sim):
        needs.append(" Features read from the simulator need its package (mujoco), as the env "
                     "does.")
    if env_module and not env_module.startswith("."):
        needs.append(f" Making the env needs `{env_module}`"
                     f"{f' ({spec.requires})' if spec.requires else ''}; the package imports it.")
    sim_files = (
        "\n- `exported_reward/sim.py`: the simulator probes (copied from text2reward): "
        "`RewardWrapper` reads them from `env.unwrapped` after each reset and step; envs of a "
        "vector env report them in `info[\"t2r_sim\"]` (`with_sim_features(env)`)."
        if probes else "")
    subproc = (
        " For a `SubprocVecEnv`, pass `wrapper_class=with_sim_features` so that the envs report "
        "the simulator features (`make_vec_env` does)." if probes else "")
    return Template((TEMPLATE / "README.md").read_text()).substitute(
        env_id=spec.env_id,
        task=run.summary.get("task"),
        features=", ".join(f"`{n}`" for n in spec.feature_names),
        needs="".join(needs),
        sim_files=sim_files,
        subproc_note=subproc,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())
