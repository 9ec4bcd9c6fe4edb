"""Export a run's best reward as a standalone package: the program, the env's feature
extraction, a Gymnasium wrapper and an SB3 VecEnv wrapper.

The exported package depends only on numpy and gymnasium (and stable-baselines3 for the
VecEnv wrapper, imported when it is first used), never on text2reward, so it drops into a
plain SB3 or CleanRL script. The feature code is generated from the env spec (an index or a
numpy expression per feature); the reward program is copied verbatim.
"""

from __future__ import annotations

import json
import pprint
from pathlib import Path
from string import Template

from text2reward.envs.spec import EnvSpec, Feature, load_spec
from text2reward.errors import UsageError
from text2reward.report import Run
from text2reward.store import atomic_write

PACKAGE = "exported_reward"


def export_run(run_dir: Path, to: Path | None = None) -> Path:
    """Write the package ``exported_reward`` and a README into ``to`` (default RUN_DIR/export)."""
    run = Run(Path(run_dir))
    best_file = run.root / "best_reward.py"
    if run.best is None or not best_file.is_file():
        raise UsageError(
            f"{run.root} has no best reward yet (no candidate was trained); nothing to export"
        )
    spec = load_spec(run.summary["env"])
    _check_exportable(spec)
    key = run.summary.get("task_key")
    task = spec.tasks.get(key.split(":", 1)[1]) if key else None
    out = Path(to) if to is not None else run.root / "export"
    package = out / PACKAGE
    meta = {
        "env_id": repr(spec.env_id),
        "env_kwargs": repr(spec.env_kwargs(task)),
        "task": repr(run.summary.get("task")),
        "score": repr(run.best.get("score")),
        "success": repr(run.best.get("success")),
        "source_run": repr(str(run.root.resolve())),
        "training": pprint.pformat(_training(spec, task), sort_dicts=False),
    }
    atomic_write(package / "__init__.py", Template(INIT).substitute(meta))
    atomic_write(package / "reward.py", best_file.read_text())
    atomic_write(package / "features.py", feature_module(spec))
    atomic_write(package / "wrappers.py", WRAPPERS)
    atomic_write(package / "vec_env.py", VEC_ENV)
    atomic_write(
        out / "README.md",
        Template(README).substitute(
            env_id=spec.env_id,
            package=PACKAGE,
            task=run.summary.get("task"),
            features=", ".join(f"`{n}`" for n in spec.feature_names),
        ),
    )
    atomic_write(out / "train_sb3.py", EXAMPLE)
    return out


def _training(spec: EnvSpec, task) -> dict:
    """The env's training preset, for scripts that want the settings text2reward used."""
    preset = spec.training_preset(task)
    keys = ("algo", "policy", "n_envs", "timesteps", "hyperparams")
    return {k: preset[k] for k in keys if k in preset}


def _check_exportable(spec: EnvSpec) -> None:
    """The standalone module computes features from the observation only."""
    unsupported = [f.name for f in spec.features if f.sim is not None or f.key is not None]
    if unsupported:
        raise UsageError(
            f"{spec.env_id} has features read from the simulator or dict observations "
            f"({', '.join(unsupported[:4])}{', ...' if len(unsupported) > 4 else ''}); export "
            "supports flat-observation features only: use the run's best_reward.py with "
            "text2reward's RewardVecEnv instead"
        )


def feature_module(spec: EnvSpec) -> str:
    """Python source of ``extract(obs)``: every feature of ``spec`` as plain numpy code."""
    lines = [
        f'"""Named features of {spec.env_id} observations (generated from its text2reward '
        'spec)."""',
        "",
        "import numpy as np",
        "",
        f"FEATURES = ({''.join(json.dumps(n) + ', ' for n in spec.feature_names).rstrip()})",
        "",
        "",
        "def extract(obs):",
        '    """Every named feature of a batch of flat observations of shape (n, obs_dim)."""',
        "    obs = np.asarray(obs, dtype=np.float64)",
        "    return {",
    ]
    for feature in spec.features:
        unit = f" [{_one_line(feature.unit)}]" if feature.unit else ""
        lines.append(f"        # {_one_line(feature.description)}{unit}")
        lines.append(f"        {json.dumps(feature.name)}: {_feature_code(feature)},")
    lines += ['        "obs": obs,', "    }", ""]
    return "\n".join(lines)


def _feature_code(feature: Feature) -> str:
    if feature.expr is not None:
        return f"({feature.expr})"
    if isinstance(feature.index, tuple):
        return f"obs[:, {feature.index[0]}:{feature.index[1]}]"
    return f"obs[:, {feature.index}]"


def _one_line(text: str) -> str:
    return " ".join(text.split())


INIT = '''"""The best reward program of a text2reward run, standalone (numpy and gymnasium only).

    import gymnasium as gym
    from exported_reward import RewardWrapper, make_env

    env = make_env()          # gym.make(ENV_ID, **ENV_KWARGS) wrapped in RewardWrapper
    # SB3, batched: RewardVecEnvWrapper(make_vec_env(ENV_ID, n_envs=8, env_kwargs=ENV_KWARGS))

See README.md next to this package.
"""

import gymnasium as gym

from .features import FEATURES, extract
from .reward import compute_reward
from .wrappers import RewardWrapper, State, batched_reward

ENV_ID = $env_id
ENV_KWARGS = $env_kwargs
TASK = $task
SCORE = $score  # the task score the run measured for this program
SUCCESS = $success
SOURCE_RUN = $source_run
TRAINING = $training  # the training preset text2reward used

__all__ = ["ENV_ID", "ENV_KWARGS", "FEATURES", "TRAINING", "RewardVecEnvWrapper",
           "RewardWrapper", "State", "batched_reward", "compute_reward", "extract", "make_env"]


def make_env(**kwargs):
    """``gym.make(ENV_ID, **ENV_KWARGS, **kwargs)`` with its reward replaced by the program."""
    return RewardWrapper(gym.make(ENV_ID, **{**ENV_KWARGS, **kwargs}))


def __getattr__(name):
    if name == "RewardVecEnvWrapper":  # needs stable-baselines3: imported only when asked for
        from .vec_env import RewardVecEnvWrapper

        return RewardVecEnvWrapper
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
'''

WRAPPERS = '''"""A Gymnasium wrapper that replaces an env's reward with the exported reward program.

The program follows text2reward's batched contract: ``compute_reward(state, action,
next_state)`` with read-only named features whose first axis is the batch, returning
``(reward of shape (n,), {component: (n,)})``. A single env is a batch of one.
"""

import gymnasium as gym
import numpy as np

from .features import extract
from .reward import compute_reward


class State:
    """Read-only named features of a batch of observations; ``state.obs`` is the raw batch."""

    __slots__ = ("_features",)

    def __init__(self, obs):
        features = {}
        for name, value in extract(obs).items():
            value = np.array(value)
            value.flags.writeable = False
            features[name] = value
        object.__setattr__(self, "_features", features)

    def __getattr__(self, name):
        try:
            return self._features[name]
        except KeyError:
            raise AttributeError(f"state has no feature {name!r}; "
                                 f"features: {', '.join(sorted(self._features))}") from None

    def __setattr__(self, name, value):
        raise AttributeError("states are read-only")


def batched_reward(obs, action, next_obs):
    """Rewards (n,) and components {name: (n,)} of a batch of transitions."""
    next_obs = np.asarray(next_obs, dtype=np.float64)
    action = np.array(action)
    action.flags.writeable = False
    reward, components = compute_reward(State(obs), action, State(next_obs))
    reward = np.asarray(reward, dtype=np.float64)
    if reward.shape != (len(next_obs),):
        raise ValueError(f"reward has shape {reward.shape}, expected ({len(next_obs)},)")
    return reward, {k: np.asarray(v, dtype=np.float64) for k, v in components.items()}


class RewardWrapper(gym.Wrapper):
    """Replace each step's reward with the program's.

    ``info["env_reward"]`` keeps the env's own reward and ``info["reward_components"]`` the
    program's components. Termination and truncation are the env's, unchanged.
    """

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._obs = obs
        return obs, info

    def step(self, action):
        obs, env_reward, terminated, truncated, info = self.env.step(action)
        action_batch = np.asarray(action)[None]
        reward, components = batched_reward(_batch(self._obs), action_batch, _batch(obs))
        self._obs = obs
        info = {**info, "env_reward": env_reward,
                "reward_components": {k: float(v[0]) for k, v in components.items()}}
        return obs, float(reward[0]), terminated, truncated, info


def _batch(obs):
    return np.asarray(obs, dtype=np.float64)[None]
'''

VEC_ENV = '''"""An SB3 VecEnvWrapper: the reward replaced, one program call per vector step."""

import numpy as np
from stable_baselines3.common.vec_env import VecEnvWrapper

from .wrappers import batched_reward


class RewardVecEnvWrapper(VecEnvWrapper):
    """One ``compute_reward`` call per vector step for all envs.

    For envs that finished, the transition ends at ``info["terminal_observation"]`` (SB3
    resets them automatically). Each info gets ``env_reward`` and ``reward_components``.
    """

    def reset(self):
        obs = self.venv.reset()
        self._obs = np.array(obs, dtype=np.float64)
        return obs

    def step_async(self, actions):
        self._actions = np.array(actions)
        self.venv.step_async(actions)

    def step_wait(self):
        obs, env_rewards, dones, infos = self.venv.step_wait()
        next_obs = np.array(obs, dtype=np.float64)
        for i in np.flatnonzero(dones):
            next_obs[i] = infos[i]["terminal_observation"]
        reward, components = batched_reward(self._obs, self._actions, next_obs)
        for i, info in enumerate(infos):
            info["env_reward"] = float(env_rewards[i])
            info["reward_components"] = {k: float(v[i]) for k, v in components.items()}
        self._obs = np.array(obs, dtype=np.float64)
        return obs, reward.astype(np.float32), dones, infos
'''

README = """# Exported reward for $env_id

Task: $task

`$package/` is the best reward program of a text2reward run as a plain Python package. It
needs numpy and gymnasium; `RewardVecEnvWrapper` also needs stable-baselines3. It does not
need text2reward.

- `$package/reward.py`: the reward program, `compute_reward(state, action, next_state)`.
- `$package/features.py`: `extract(obs)`, the named features ($features) the program reads.
- `RewardWrapper(env)`: a `gymnasium.Wrapper` that replaces each step's reward; the env's own
  reward is in `info["env_reward"]`, the components in `info["reward_components"]`.
- `RewardVecEnvWrapper(venv)`: the same for an SB3 `VecEnv`, one batched call per step.
- `ENV_ID`, `ENV_KWARGS` (make the env with these), `TRAINING` (the preset text2reward used).

## Train with Stable-Baselines3

```python
import sys
sys.path.insert(0, "path/to/this/folder")

from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from $package import ENV_ID, ENV_KWARGS, TRAINING, RewardVecEnvWrapper

n_envs = TRAINING.get("n_envs", 8)
venv = RewardVecEnvWrapper(make_vec_env(ENV_ID, n_envs=n_envs, env_kwargs=ENV_KWARGS))
model = PPO("MlpPolicy", venv, **TRAINING.get("hyperparams", {}))
model.learn(total_timesteps=TRAINING.get("timesteps", 50_000))
```

A single env, e.g. for CleanRL or your own loop:

```python
from $package import make_env

env = make_env()                 # RewardWrapper(gym.make(ENV_ID, **ENV_KWARGS))
obs, info = env.reset(seed=0)
obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
print(reward, info["reward_components"], info["env_reward"])
```

`train_sb3.py` in this folder is the first example as a script: `python train_sb3.py`.
"""

EXAMPLE = '''"""Train a PPO policy with the exported reward, then report the env's own return."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gymnasium as gym  # noqa: E402
import stable_baselines3  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402

from exported_reward import ENV_ID, ENV_KWARGS, TRAINING, RewardVecEnvWrapper  # noqa: E402

venv = RewardVecEnvWrapper(make_vec_env(ENV_ID, n_envs=TRAINING.get("n_envs", 8), seed=0,
                                        env_kwargs=ENV_KWARGS))
algo = getattr(stable_baselines3, TRAINING.get("algo", "PPO"))
model = algo(TRAINING.get("policy", "MlpPolicy"), venv, seed=0, **TRAINING.get("hyperparams", {}))
steps = int(sys.argv[1]) if len(sys.argv) > 1 else TRAINING.get("timesteps", 50_000)
model.learn(total_timesteps=steps)
mean, std = evaluate_policy(model, gym.make(ENV_ID, **ENV_KWARGS), n_eval_episodes=10)
print(f"mean env return {mean:.1f} +- {std:.1f}")
'''
