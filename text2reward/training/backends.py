"""Training backends: Stable-Baselines3 (PyTorch, the default) and SBX (its JAX port, whose
jitted updates are several times faster for SAC, TD3, TQC and CrossQ on a CPU; measured in
docs/results/search-cost.md). A preset chooses one with ``backend: sbx``; SBX is an extra:
``pip install "text2reward[sbx]"``.

SB3 saves a policy as ``policy.zip`` with its weights in ``policy.pth``, read back with
``torch.load(weights_only=True)``. SBX's own save pickles the policy object, and nothing a
worker writes is unpickled, so an SBX policy is saved as a ``policy.zip`` holding its
networks' parameters in flax's msgpack serialisation (``sbx-params.msgpack``), read back into
a model built from the preset.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

ALGOS = {"PPO": "stable_baselines3", "A2C": "stable_baselines3", "SAC": "stable_baselines3",
         "TD3": "stable_baselines3", "DQN": "stable_baselines3", "TQC": "sb3_contrib",
         "CrossQ": "sb3_contrib", "TRPO": "sb3_contrib"}
SBX_ALGOS = ("PPO", "SAC", "TD3", "DDPG", "TQC", "CrossQ", "DQN")
BACKENDS = ("sb3", "sbx")
SBX_PARAMS = "sbx-params.msgpack"
SBX_HINT = 'backend sbx needs SBX: pip install "text2reward[sbx]"'


def backend_of(preset: dict[str, Any]) -> str:
    return str(preset.get("backend") or "sb3").lower()


def prepare_jax(device: str) -> None:
    """Settings JAX reads when it is imported: one CPU thread per training (as torch gets),
    and GPU memory taken as needed, so that several trainings can share one GPU."""
    if device == "cpu":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                           "intra_op_parallelism_threads=1")
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def algo_class(name: str, backend: str = "sb3"):
    """The algorithm class called ``name`` (any case): SB3's or sb3-contrib's, or SBX's."""
    import importlib

    from text2reward.errors import UsageError

    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    known = ALGOS if backend == "sb3" else dict.fromkeys(SBX_ALGOS, "sbx")
    found = {k.upper(): k for k in known}.get(name.upper())
    if found is None:
        raise UsageError(f"unknown algorithm {name!r} for backend {backend}; known: "
                         f"{', '.join(known)}")
    try:
        module = importlib.import_module(known[found])
    except ImportError:
        if backend == "sbx":
            raise UsageError(SBX_HINT) from None
        raise
    return getattr(module, found)


def _states(policy) -> dict[str, Any]:
    """An SBX policy's networks: its flax train states (actor_state, qf_state, vf_state)."""
    return {name: state for name, state in sorted(vars(policy).items())
            if name.endswith("_state") and hasattr(state, "params")}


def _variables(state) -> dict[str, Any]:
    out = {"params": state.params}
    if getattr(state, "batch_stats", None) is not None:  # CrossQ's batch normalisation
        out["batch_stats"] = state.batch_stats
    return out


def save_policy(model, path: Path, backend: str) -> None:
    """Save ``model``'s policy to ``path`` (a .zip) in a form read back without pickle."""
    if backend != "sbx":
        model.save(path)
        return
    from flax import serialization

    data = serialization.to_bytes({k: _variables(s) for k, s in _states(model.policy).items()})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(SBX_PARAMS, data)


def load_sbx_params(model, path: Path) -> None:
    """Put the parameters saved by ``save_policy`` into ``model`` (built from the same
    preset): a warm start, or a policy to run."""
    from flax import serialization

    with zipfile.ZipFile(path) as archive:
        data = archive.read(SBX_PARAMS)
    states = _states(model.policy)
    restored = serialization.from_bytes({k: _variables(s) for k, s in states.items()}, data)
    for name, state in states.items():
        setattr(model.policy, name, state.replace(**restored[name]))
    for name in ("actor", "qf", "vf"):  # the algorithm's own references to the networks
        if hasattr(model, name) and hasattr(model.policy, name):
            setattr(model, name, getattr(model.policy, name))


def load_policy(path: Path, preset: dict[str, Any], env):
    """The policy saved at ``path`` by a training with ``preset``, on ``env``'s spaces, ready
    for ``predict``; nothing in the file is unpickled."""
    if backend_of(preset) == "sbx":
        prepare_jax("cpu")
        algo = algo_class(str(preset.get("algo", "PPO")), "sbx")
        hyperparams = {k: v for k, v in (preset.get("hyperparams") or {}).items()
                       if k in ("policy_kwargs",)}
        model = algo(preset.get("policy", "MlpPolicy"), env, verbose=0, **hyperparams)
        load_sbx_params(model, path)
        return model.policy
    import torch

    algo = algo_class(str(preset.get("algo", "PPO")))
    policy_cls = algo.policy_aliases[preset.get("policy", "MlpPolicy")]
    kwargs = dict(preset.get("hyperparams", {}).get("policy_kwargs") or {})
    policy = policy_cls(env.observation_space, env.action_space, lambda _: 0.0, **kwargs)
    with zipfile.ZipFile(path) as archive:
        state = torch.load(
            io.BytesIO(archive.read("policy.pth")), map_location="cpu", weights_only=True
        )
    policy.load_state_dict(state)
    policy.set_training_mode(False)
    return policy
