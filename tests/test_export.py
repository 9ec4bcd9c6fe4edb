"""`text2reward export`: the best reward as a standalone package, used in plain SB3 scripts.

Every env kind: flat observations (CartPole), features read from the MuJoCo simulator
(Hopper) and dict observations (FetchReach). The exported wrappers must pay, transition by
transition, the rewards text2reward computes for the same program (its StateView over state
rows, its own simulator gathering, its RewardVecEnv)."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_cli import offline_run, t2r

from text2reward.envs.layout import ObsLayout, StateLayout
from text2reward.envs.sim import Gatherer
from text2reward.envs.spec import load_spec
from text2reward.envs.state import StateView
from text2reward.export import export_run
from text2reward.program import RewardProgram


def plain_python(script: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter, from a folder that holds no text2reward code."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", SB3_LOGDIR=str(cwd / "sb3-logs"))
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def toy_run(root: Path, samples: int) -> Path:
    offline_run(root / "run", samples, 1)
    return root / "run"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path]:
    run = toy_run(tmp_path_factory.mktemp("export"), samples=2)
    proc = t2r("export", str(run))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(run / "export")
    return run, run / "export"


SCRIPT = """
import json, sys
sys.path.insert(0, {export!r})
import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from exported_reward import (ENV_ID, ENV_KWARGS, TRAINING, RewardVecEnvWrapper, State,
                             compute_reward, make_env)

# the Gymnasium wrapper: one env, a batch of one
env = make_env()
obs, _ = env.reset(seed=0)
single = []
for t in range(30):
    action = t % 2
    next_obs, reward, terminated, truncated, info = env.step(action)
    expected, parts = compute_reward(State(obs[None]), np.array([action]), State(next_obs[None]))
    single.append([reward, float(expected[0]), info["env_reward"],
                   sum(info["reward_components"].values())])
    obs = next_obs
    if terminated or truncated:
        obs, _ = env.reset()

# the VecEnv wrapper: train PPO on it at a toy budget, then check its rewards step by step
venv = RewardVecEnvWrapper(make_vec_env(ENV_ID, n_envs=4, seed=0, env_kwargs=ENV_KWARGS))
model = PPO("MlpPolicy", venv, seed=0, **{{**TRAINING["hyperparams"], "n_steps": 64}})
model.learn(total_timesteps=512)
obs = venv.reset()
batched, dones_seen = [], 0
for _ in range(200):
    prev = np.array(obs, dtype=np.float64)
    actions, _ = model.predict(obs)
    obs, rewards, dones, infos = venv.step(actions)
    nxt = np.array(obs, dtype=np.float64)
    for i in np.flatnonzero(dones):
        nxt[i] = infos[i]["terminal_observation"]
        dones_seen += 1
    expected, _ = compute_reward(State(prev), actions, State(nxt))
    batched.append([rewards.tolist(), expected.tolist(), [i["env_reward"] for i in infos]])
print(json.dumps({{"single": single, "batched": batched, "dones": dones_seen,
                  "steps": int(model.num_timesteps),
                  "text2reward_imported": any(m.startswith("text2reward") for m in sys.modules)}}))
"""


def test_export_writes_a_standalone_package(exported):
    run, out = exported
    package = out / "exported_reward"
    assert (package / "reward.py").read_text() == (run / "best_reward.py").read_text()
    assert {"__init__.py", "features.py", "wrappers.py", "vec_env.py"} <= {
        p.name for p in package.iterdir()
    }
    assert (out / "README.md").is_file() and (out / "train_sb3.py").is_file()
    for path in package.glob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+text2reward", path.read_text(), re.M), path
    features = (package / "features.py").read_text()
    assert "def feature_pole_angle(obs, sim):" in features and "return obs[:, 2]" in features
    assert "torch.set_num_threads(1)" in (out / "train_sb3.py").read_text()


def test_exported_wrappers_train_sb3_with_the_exported_reward_and_no_text2reward(
    exported, tmp_path
):
    _, out = exported
    proc = plain_python(SCRIPT.format(export=str(out)), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["text2reward_imported"] is False
    assert result["steps"] >= 512 and result["dones"] > 0
    for reward, expected, _, parts in result["single"]:
        assert reward == pytest.approx(expected) and reward == pytest.approx(parts)
    assert any(abs(r[0] - r[2]) > 1e-6 for r in result["single"])  # not the env's +1 per step
    for rewards, expected, env_rewards in result["batched"]:
        assert rewards == pytest.approx(expected, rel=1e-5, abs=1e-5)  # float32 on the way out
        assert env_rewards == [1.0] * len(env_rewards)


def test_export_to_a_chosen_folder_and_of_a_bad_folder(exported, tmp_path):
    run, _ = exported
    proc = t2r("export", str(run), "--to", str(tmp_path / "mine"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "mine" / "exported_reward" / "reward.py").is_file()
    bad = t2r("export", str(tmp_path / "missing"))
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_exported_wrapper_trains_cartpole_to_the_balance_tasks_success(tmp_path):
    """The issue's "must show": a plain SB3 script with the exported wrapper reaches 475."""
    run = toy_run(tmp_path, samples=1)  # round 0 candidate 0: the family's default program
    proc = t2r("export", str(run))
    assert proc.returncode == 0, proc.stderr
    script = run / "export" / "train_sb3.py"
    done = plain_python(
        f"import runpy, sys\nsys.argv = ['train_sb3.py', '50000']\n"
        f"runpy.run_path({str(script)!r}, run_name='__main__')\n"
        "assert not any(m.startswith('text2reward') for m in sys.modules)",
        cwd=tmp_path,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr
    mean = float(re.search(r"mean env return ([\d.]+)", done.stdout).group(1))
    assert mean >= 475, done.stdout


# -- every env kind: simulator features, dict observations, flat observations -------------------
MINIGRID = "text2reward/MiniGrid-Empty-Random-6x6-v0"
KINDS = {  # env id -> (task, an expression of next_state.obs per env)
    "CartPole-v1": ("balance", "next_state.obs.sum(axis=1)"),
    "Hopper-v5": ("hop", "next_state.obs.sum(axis=1)"),
    "FetchReach-v4": ("reach", "next_state.obs.observation.sum(axis=1)"),
    MINIGRID: ("reach_goal", "next_state.obs.sum(axis=1)"),  # attr: probes, an adapter env
}
NEEDS = {"FetchReach-v4": "gymnasium_robotics", MINIGRID: "minigrid"}


def every_feature_program(env_id: str) -> str:
    """A reward program with one component per feature (of both states) and one of the obs."""
    lines = ["import numpy as np", "", "", "def compute_reward(state, action, next_state):",
             "    n = len(action)", "    parts = {}"]
    for name in load_spec(env_id).feature_names:
        lines.append(f"    parts[{name!r}] = (np.reshape(next_state.{name}, (n, -1)).sum(axis=1)"
                     f" - 0.5 * np.reshape(state.{name}, (n, -1)).sum(axis=1))")
    lines += [f"    parts['obs'] = {KINDS[env_id][1]}",
              "    parts['effort'] = -np.square(np.reshape(action, (n, -1))).sum(axis=1)",
              "    reward = np.zeros(n)",
              "    for value in parts.values():",
              "        reward = reward + value",
              "    return reward, parts"]
    return "\n".join(lines) + "\n"


def hand_made_run(root: Path, env_id: str) -> Path:
    """A run folder as `text2reward run` leaves it, as far as export reads it."""
    if env_id in NEEDS:
        pytest.importorskip(NEEDS[env_id])
    task = KINDS[env_id][0]
    spec = load_spec(env_id)
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"env": env_id, "task": task}))
    (root / "summary.json").write_text(json.dumps({
        "env": env_id, "task_key": f"{env_id}:{task}", "task": spec.tasks[task].description,
        "status": "finished", "best": {"round": 0, "candidate": 0, "score": 1.0,
                                       "success": True}}))
    (root / "best_reward.py").write_text(every_feature_program(env_id))
    return root


def load_package(out: Path, name: str):
    """Import an exported package under its own module name (several live in this process)."""
    package = out / "exported_reward"
    spec = importlib.util.spec_from_file_location(name, package / "__init__.py",
                                                  submodule_search_locations=[str(package)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def kinds(tmp_path_factory) -> dict:
    """Each kind's program exported and imported: env id -> (export folder, package)."""
    root = tmp_path_factory.mktemp("kinds")
    out = {}
    for i, env_id in enumerate(KINDS):
        if env_id in NEEDS and importlib.util.find_spec(NEEDS[env_id]) is None:
            continue
        export = export_run(hand_made_run(root / f"run{i}", env_id))
        out[env_id] = export, load_package(export, f"exported_kind_{i}")
    return out


def _kind(kinds: dict, env_id: str):
    if env_id not in kinds:
        pytest.skip(f"{env_id} is not installed")
    return kinds[env_id]


@pytest.mark.parametrize("env_id", list(KINDS))
def test_exported_package_of_each_kind_is_standalone(kinds, env_id):
    out, _ = _kind(kinds, env_id)
    package = out / "exported_reward"
    names = {p.name for p in package.iterdir()}
    assert {"__init__.py", "features.py", "reward.py", "settings.py", "sim.py", "views.py",
            "wrappers.py", "vec_env.py"} <= names
    for path in package.glob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+text2reward", path.read_text(), re.M), path
    features = (package / "features.py").read_text()
    if env_id == "Hopper-v5":
        assert 'return probe(sim, "qpos:rootx")' in features  # read from env.unwrapped.data
        assert 'return probe(sim, "contact:foot")' in features
    if env_id == "FetchReach-v4":
        assert 'return obs["achieved_goal"][:, 0:3]' in features
        assert "achieved_goal = obs[\"achieved_goal\"]" in features  # goal_distance's expr
    if env_id == MINIGRID:  # the env text2reward registers, bundled
        assert "gym.register(" in (package / "registration.py").read_text()
        assert 'return probe(sim, "attr:agent_pos:0")' in features
    assert f"ENV_ID = {env_id!r}" in (package / "settings.py").read_text()


@pytest.mark.parametrize("env_id", list(KINDS))
def test_exported_env_wrapper_pays_text2reward_rewards(kinds, env_id):
    """Step the exported RewardWrapper with random actions; text2reward computes the same
    program on the same transitions from its own state rows (its own simulator gathering
    from the same env), feature by feature."""
    _, package = _kind(kinds, env_id)
    spec = load_spec(env_id)
    program = RewardProgram.load(every_feature_program(env_id))
    env = package.make_env()
    gatherer = Gatherer(env, spec.probes) if spec.probes else None
    obs, _ = env.reset(seed=0)
    sim = gatherer.layout() if gatherer else None
    layout = StateLayout(ObsLayout.from_space(env.observation_space), sim)

    def rows(obs):
        batch = ({k: np.asarray(v)[None] for k, v in obs.items()} if isinstance(obs, dict)
                 else np.asarray(obs)[None])
        return layout.rows(batch, gatherer.gather()[None] if gatherer else None)

    env.action_space.seed(0)
    state, episodes = rows(obs), 0
    for _ in range(300):
        action = env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(action)
        next_state = rows(obs)
        expected, parts = program(StateView.from_rows(spec, layout, state),
                                  np.asarray(action)[None],
                                  StateView.from_rows(spec, layout, next_state))
        assert reward == pytest.approx(float(expected[0]), rel=1e-12, abs=1e-12)
        assert info["reward_components"] == pytest.approx(
            {k: float(v[0]) for k, v in parts.items()}, rel=1e-12, abs=1e-12)
        state = next_state
        if terminated or truncated:
            obs, _ = env.reset()
            state, episodes = rows(obs), episodes + 1
    assert episodes >= 2  # episode ends and resets were compared too
    assert info["reward_components"]["obs"] != 0
    env.close()


@pytest.mark.parametrize("env_id", list(KINDS))
def test_exported_vec_env_wrapper_pays_text2reward_rewards(kinds, env_id):
    """text2reward's RewardVecEnv and the exported RewardVecEnvWrapper, made by the package's
    make_vec_env (envs report the simulator in infos) and around SB3's own make_vec_env
    (the wrapper adds that), on vector envs seeded alike, stepped with the same actions:
    the same rewards at every step, across episode ends."""
    from stable_baselines3.common.env_util import make_vec_env

    from text2reward.training.wrapper import RewardVecEnv

    _, package = _kind(kinds, env_id)
    spec = load_spec(env_id)
    n, seed = 3, 1
    plain = make_vec_env(env_id, n_envs=n, seed=seed, env_kwargs=package.ENV_KWARGS)
    venvs = [RewardVecEnv(plain, spec, RewardProgram.load(every_feature_program(env_id)),
                          lambda ep: 0.0),
             package.make_vec_env(n_envs=n, seed=seed),
             package.RewardVecEnvWrapper(make_vec_env(env_id, n_envs=n, seed=seed,
                                                      env_kwargs=package.ENV_KWARGS))]
    first = [venv.reset() for venv in venvs]
    rng = np.random.default_rng(0)
    space = venvs[0].action_space
    dones = 0
    for _ in range(120):
        if hasattr(space, "n"):
            actions = rng.integers(0, space.n, n)
        else:
            actions = rng.uniform(space.low, space.high, (n, *space.shape)).astype(space.dtype)
        steps = [venv.step(actions) for venv in venvs]
        (_, expected, done, _), *others = steps
        for _, rewards, done_b, infos in others:
            np.testing.assert_array_equal(rewards, expected)
            np.testing.assert_array_equal(done_b, done)
            assert [i["reward_components"]["effort"] for i in infos] == pytest.approx(
                -np.square(actions.reshape(n, -1)).sum(axis=1))
        dones += int(done.sum())
    assert dones >= 2
    for obs in first[1:]:  # the vector envs were alike
        for key in obs if isinstance(obs, dict) else [None]:
            a, b = (obs, first[0]) if key is None else (obs[key], first[0][key])
            np.testing.assert_array_equal(a, b)
    for venv in venvs:
        venv.close()


PLAIN_SCRIPT = """
import json, sys
sys.path.insert(0, {export!r})
import numpy as np
import stable_baselines3
from stable_baselines3.common.vec_env import SubprocVecEnv
from exported_reward import TRAINING, make_env, make_vec_env

env = make_env()
env.reset(seed=0)
for _ in range(20):
    _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
    if terminated or truncated:
        env.reset()
# envs in other processes report the simulator features in their infos
rewards = []
for kind in (None, SubprocVecEnv):
    venv = make_vec_env(n_envs=2, seed=0, vec_env_cls=kind)
    venv.reset()
    rng = np.random.default_rng(0)
    space = venv.action_space
    rewards.append([venv.step(rng.uniform(space.low, space.high, (2, *space.shape))
                              .astype(space.dtype))[1].tolist() for _ in range(30)])
    venv.close()
venv = make_vec_env(n_envs=2, seed=0)
hyper = {{**TRAINING["hyperparams"], "n_steps": 64, "batch_size": 64}}
model = getattr(stable_baselines3, TRAINING["algo"])(TRAINING.get("policy", "MlpPolicy"), venv,
                                                     seed=0, **hyper)
model.learn(total_timesteps=256)
print(json.dumps({{"steps": int(model.num_timesteps), "same": rewards[0] == rewards[1],
                  "text2reward_imported": any(m.startswith("text2reward") for m in sys.modules)}}))
"""


@pytest.mark.parametrize("env_id", ["Hopper-v5", "FetchReach-v4"])
def test_exported_package_trains_in_plain_sb3_without_text2reward(kinds, env_id, tmp_path):
    out, _ = _kind(kinds, env_id)
    proc = plain_python(PLAIN_SCRIPT.format(export=str(out)), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"steps": 256, "same": True, "text2reward_imported": False}


@pytest.mark.slow
def test_exported_hopper_wrapper_trains_in_its_train_sb3_script(tmp_path):
    """The exported train_sb3.py of a Hopper reward (simulator features) trains to the end."""
    out = export_run(hand_made_run(tmp_path / "run", "Hopper-v5"))
    done = plain_python(
        f"import runpy, sys\nsys.argv = ['train_sb3.py', '8192']\n"
        f"runpy.run_path({str(out / 'train_sb3.py')!r}, run_name='__main__')\n"
        "import torch\nassert torch.get_num_threads() == 1\n"
        "assert not any(m.startswith('text2reward') for m in sys.modules)",
        cwd=tmp_path,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"mean env return -?[\d.]+ \+- [\d.]+", done.stdout), done.stdout


def test_export_of_a_run_on_a_users_env_module_imports_that_module(tmp_path, monkeypatch):
    """A run made with --env-module: the package imports the user's module, which registers
    the env id (as text2reward did), and computes the automatic spec's features."""
    (tmp_path / "my_export_envs.py").write_text(
        "import gymnasium as gym\n\n"
        "if 'MyExportPendulum-v0' not in gym.registry:\n"
        "    gym.register('MyExportPendulum-v0', max_episode_steps=200,\n"
        "                 entry_point='gymnasium.envs.classic_control:PendulumEnv')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"env": "MyExportPendulum-v0",
                                                 "env_module": "my_export_envs"}))
    (run / "summary.json").write_text(json.dumps({
        "env": "MyExportPendulum-v0", "task": "swing up", "best": {"score": 0.0}}))
    (run / "best_reward.py").write_text(
        "import numpy as np\n\n\ndef compute_reward(state, action, next_state):\n"
        "    up = next_state.obs_0 - 0.1 * np.abs(next_state.obs_2)\n"
        "    return up, {'up': up}\n")
    out = export_run(run)
    assert "ENV_MODULE = 'my_export_envs'" in (out / "exported_reward" / "settings.py").read_text()
    script = (f"import sys\nsys.path.insert(0, {str(out)!r})\n"
              "import numpy as np\nfrom exported_reward import make_env\n"
              "env = make_env()\nobs, _ = env.reset(seed=0)\n"
              "obs, reward, *_ = env.step(env.action_space.sample())\n"
              "assert abs(reward - (obs[0] - 0.1 * abs(obs[2]))) < 1e-5, reward\n"
              "assert not any(m.startswith('text2reward') for m in sys.modules)\nprint('ok')")
    proc = plain_python(script, cwd=tmp_path)  # the user's module is in the current folder
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_exported_training_settings_keep_the_presets_normalisation(tmp_path):
    """Hopper trains with VecNormalize: the exported TRAINING says so, and train_sb3.py uses it."""
    out = export_run(hand_made_run(tmp_path / "run", "Hopper-v5"))
    settings = (out / "exported_reward" / "settings.py").read_text()
    assert "'normalize': True" in settings or '"normalize": True' in settings
    assert "VecNormalize(venv" in (out / "train_sb3.py").read_text()


def test_exported_training_with_torch_classes_in_its_preset_trains(tmp_path, monkeypatch):
    """HalfCheetah run's preset names its activation as "torch.nn.ReLU": the exported
    train_sb3.py turns the name back into the class, and trains."""
    monkeypatch.setitem(KINDS, "HalfCheetah-v5", ("run", "next_state.obs.sum(axis=1)"))
    out = export_run(hand_made_run(tmp_path / "run", "HalfCheetah-v5"))
    assert "torch.nn.ReLU" in (out / "exported_reward" / "settings.py").read_text()
    done = plain_python(
        f"import runpy, sys\nsys.argv = ['train_sb3.py', '1024']\n"
        f"g = runpy.run_path({str(out / 'train_sb3.py')!r}, run_name='__main__')\n"
        "import torch\nassert g['model'].policy.activation_fn is torch.nn.ReLU\n",
        cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
