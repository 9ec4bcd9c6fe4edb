"""A user's own spec of an env: `spec init` writes one, `envs --spec` checks it (one line per
mistake), and `check`, `run` and the run's later commands use it, in their workers too."""

import json
import uuid

import pytest
import yaml
from fake_openai import Say
from test_cli import t2r

ENV = '''"""A cart on a line that should reach the origin."""

import gymnasium as gym
import numpy as np


class LineCartEnv(gym.Env):
    """A cart on a line.

    Observation: [position (m), velocity (m/s)].
    Action: a force in newtons (N), in [-1, 1].
    """

    def __init__(self):
        self.observation_space = gym.spaces.Box(-10.0, 10.0, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.state = self.np_random.uniform(-1.0, 1.0, size=2)
        return self.state.astype(np.float32), {}

    def step(self, action):
        x, v = self.state
        v = float(np.clip(v + 0.1 * float(action[0]), -10, 10))
        x = float(np.clip(x + 0.1 * v, -10, 10))
        self.state = np.array([x, v])
        return self.state.astype(np.float32), -abs(x), False, False, {}


gym.register("LineCart-v0", entry_point=LineCartEnv, max_episode_steps=40)
'''
PROGRAM = """import numpy as np


def compute_reward(state, action, next_state):
    near = -np.abs(next_state.{feature})
    return near, {{"near": near}}
"""


@pytest.fixture
def user_package(tmp_path):
    """A folder outside the repository holding a uniquely named package that registers
    LineCart-v0."""
    name = f"t2r_spec_envs_{uuid.uuid4().hex[:8]}"
    home = tmp_path / "home"
    (home / name).mkdir(parents=True)
    (home / name / "__init__.py").write_text(ENV)
    return home, name


def _rename(path, old: str, new: str, **fields) -> None:
    """Rename a feature of a spec file and set some of its fields (a user's edit)."""
    raw = yaml.safe_load(path.read_text())
    raw["features"] = {(new if k == old else k): ({**v, **fields} if k == old else v)
                       for k, v in raw["features"].items()}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def _program(folder, feature: str):
    path = folder / f"reward_{feature}.py"
    path.write_text(PROGRAM.format(feature=feature))
    return str(path)


def test_spec_init_of_swimmer_is_accepted_and_check_uses_it(tmp_path):
    path = tmp_path / "swimmer" / "spec.yaml"
    init = t2r("spec", "init", "Swimmer-v5", "--out", str(path))
    assert init.returncode == 0, init.stderr
    assert init.stdout.strip() == str(path)
    text = path.read_text()
    raw = yaml.safe_load(text)
    sims = {f.get("sim") for f in raw["features"].values()}
    assert {"qpos:slider1", "qvel:slider1", "pos:torso", "vel:back"} <= sims  # root, bodies
    assert raw["features"]["obs_0"]["index"] == 0 and raw["training"]["algo"] == "PPO"
    assert "# tasks:" in text and "def raise_obs_0(episode)" in text  # a commented example

    shown = t2r("envs", "Swimmer-v5", "--spec", str(path))  # accepted as written
    assert shown.returncode == 0, shown.stderr
    assert "- slider1_qvel [m/s]" in shown.stdout

    _rename(path, "slider1_qvel", "forward_velocity", description="speed along +x")
    shown = t2r("envs", "Swimmer-v5", "--spec", str(path))
    assert "- forward_velocity [m/s]: speed along +x" in shown.stdout
    program = _program(tmp_path, "forward_velocity")  # a name only the user's spec has
    checked = t2r("check", "--env", "Swimmer-v5", "--spec", str(path), program)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("accepted")
    without = t2r("check", "--env", "Swimmer-v5", program)  # the automatic abstraction
    assert without.returncode == 1 and "forward_velocity" in without.stdout

    again = t2r("spec", "init", "Swimmer-v5", "--out", str(path))  # never overwritten silently
    assert again.returncode == 2 and "--force" in again.stderr


def test_spec_init_of_a_users_env_names_its_module_and_is_accepted(tmp_path, user_package):
    home, name = user_package
    path = tmp_path / "linecart.yaml"
    init = t2r("spec", "init", "LineCart-v0", "--env-module", name, "--out", str(path), cwd=home)
    assert init.returncode == 0, init.stderr
    text = path.read_text()
    assert f"module: {name}" in text and "position (m), velocity (m/s)" in text  # docstring
    raw = yaml.safe_load(text)
    assert [f["index"] for f in raw["features"].values()] == [0, 1]

    shown = t2r("envs", "LineCart-v0", "--spec", str(path), cwd=home)  # the spec's module
    assert shown.returncode == 0, shown.stderr
    assert "obs_1" in shown.stdout and "at most 40 steps" in shown.stdout

    _rename(path, "obs_0", "position", unit="m", description="cart position; 0 is the goal")
    checked = t2r("check", "--env", "LineCart-v0", "--spec", str(path),
                  _program(tmp_path, "position"), cwd=home)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_each_mistake_of_a_user_spec_is_one_line(tmp_path):
    path = tmp_path / "spec.yaml"
    assert t2r("spec", "init", "Swimmer-v5", "--out", str(path)).returncode == 0
    raw = yaml.safe_load(path.read_text())
    raw["features"]["obs_0"]["units"] = "m"  # unknown field
    raw["features"]["obs_1"]["index"] = 8  # out of range: 8 entries
    raw["features"]["torso_pos"]["sim"] = "pos:nosuchbody"  # not in the model
    raw["features"]["mid_pos"]["sim"] = "where:mid"  # not a probe
    raw["tasks"] = {"swim": {"description": "swim forward"}}  # no success
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    proc = t2r("envs", "Swimmer-v5", "--spec", str(path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("error: ")
    assert all(str(path) in line for line in lines)
    for words in ("feature obs_0: unknown field 'units' (did you mean 'unit'?)",
                  "feature mid_pos: bad simulator probe 'where:mid'",
                  "task swim: has no success"):
        assert sum(words in line for line in lines) == 1, (words, lines)
    assert len(lines) == 3  # fields first; the env is checked once they are right

    del raw["features"]["obs_0"]["units"], raw["tasks"]
    raw["features"]["mid_pos"]["sim"] = "pos:mid"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    lines = t2r("envs", "Swimmer-v5", "--spec", str(path)).stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert "feature obs_1: index 8 is out of range: the observation has 8 entries" in lines[0]
    assert "feature torso_pos: the model has no body named 'nosuchbody'" in lines[1]

    other = t2r("envs", "Hopper-v5", "--spec", str(path))
    assert other.returncode == 2 and "the spec is for 'Swimmer-v5', not 'Hopper-v5'" in other.stderr
    missing = t2r("envs", "Swimmer-v5", "--spec", str(tmp_path / "none.yaml"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_a_run_with_a_user_spec_keeps_it_for_later_commands(tmp_path, fake_openai,
                                                             user_package):
    home, name = user_package
    path = tmp_path / "myspec" / "spec.yaml"
    assert t2r("spec", "init", "LineCart-v0", "--env-module", name, "--out", str(path),
               cwd=home).returncode == 0
    _rename(path, "obs_0", "position", unit="m", description="cart position; 0 is the goal")
    raw = yaml.safe_load(path.read_text())
    raw["tasks"] = {"park": {"description": "bring the cart to the origin", "success": {
        "metric": "minus the final distance to the origin (m)", "threshold": -0.1}}}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    (path.parent / "success.py").write_text(
        "def park(episode):\n    return -abs(float(episode.features['position'][-1]))\n")
    fake_openai.queue(Say("Go to the origin.\n```python\n" + PROGRAM.format(feature="position")
                          + "```\n"))
    out = tmp_path / "run"
    proc = t2r("run", "--env", "LineCart-v0", "--spec", str(path), "--task", "park",
               "--model", "openai/fake-model", "--api-base", fake_openai.api_base,
               "--samples", "1", "--rounds", "1", "--reeval-seeds", "1", "--timesteps", "512",
               "--no-render", "--out", str(out), cwd=home, env={"OPENAI_API_KEY": None})
    assert proc.returncode == 0, proc.stderr
    assert (out / "spec" / "spec.yaml").read_text() == path.read_text()  # kept in the run
    assert (out / "spec" / "success.py").is_file()
    assert json.loads((out / "config.json").read_text())["env_module"] == name
    prompt = json.dumps(fake_openai.completions[0].body["messages"])
    assert "position [m]: cart position; 0 is the goal" in prompt
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task_key"] == "LineCart-v0:park"  # the spec's task and its success.py
    assert summary["best"]["score"] <= 0 and summary["best"]["success_rate"] is not None

    elsewhere = tmp_path / "elsewhere"  # the spec file may be gone; the run has its copy
    elsewhere.mkdir()
    (path.parent / "spec.yaml").unlink()
    report = t2r("report", str(out), cwd=elsewhere)
    assert report.returncode == 0, report.stderr
    exported = t2r("export", str(out), "--to", str(tmp_path / "exp"), cwd=elsewhere)
    assert exported.returncode == 0, exported.stderr


def test_curated_specs_pass_the_checks_of_a_user_spec():
    from pathlib import Path

    from text2reward.envs.spec import load_spec
    from text2reward.envs.userspec import check_against_env, check_fields

    root = Path(__file__).resolve().parents[1] / "envs"
    for path in sorted(root.glob("*/spec.yaml")):
        assert check_fields(yaml.safe_load(path.read_text())) == [], path
    for env_id in ("CartPole-v1", "Hopper-v5"):
        assert check_against_env(load_spec(env_id)) == [], env_id
