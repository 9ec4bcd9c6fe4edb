"""Automatic abstraction of any Gymnasium env, and the sign conventions it states, checked on
the simulator itself."""

from __future__ import annotations

import sys
import textwrap

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from click.testing import CliRunner

from text2reward.cli import main
from text2reward.envs import StateView, load_spec
from text2reward.envs.abstraction import describe
from text2reward.envs.layout import ObsLayout, StateLayout
from text2reward.envs.sim import Probe, SimFeatures
from text2reward.errors import UnknownEnvError
from text2reward.sandbox.job import use_env_module

SWIMMER_PROGRAM = textwrap.dedent("""
    import numpy as np


    def compute_reward(state, action, next_state):
        forward = next_state.torso_vel[:, 0]
        bend = -0.01 * (np.square(next_state.motor1_rot_qvel)
                        + np.square(next_state.motor2_rot_qvel))
        effort = -0.0001 * np.sum(np.square(action), axis=1)
        return forward + bend + effort, {"forward": forward, "bend": bend, "effort": effort}
""")


def _sim(env_id: str, probes: list[str], **kwargs):
    """A reset env wrapped for ``probes``, its model and data, and a reader of probe values."""
    env = SimFeatures(gym.make(env_id, **kwargs), [Probe.parse(p) for p in probes])
    env.reset(seed=0)
    model, data = env.unwrapped.model, env.unwrapped.data
    layout = env.t2r_layout

    def read(probe: str) -> np.ndarray:
        mujoco.mj_forward(model, data)
        raw = env.t2r_gatherer.gather()[None]
        return layout.evaluate(Probe.parse(probe), raw)[0]

    return env, model, data, read


def test_swimmer_abstraction_names_its_joints_bodies_and_actuators():
    spec = load_spec("Swimmer-v5")
    assert not spec.curated
    names = set(spec.feature_names)
    for body in ("torso", "mid", "back"):
        assert {f"{body}_pos", f"{body}_vel"} <= names
    for joint in ("slider1", "slider2", "free_body_rot", "motor1_rot", "motor2_rot"):
        assert {f"{joint}_qpos", f"{joint}_qvel"} <= names
    text = describe(spec)
    assert "drives joint motor1_rot" in text and "drives joint motor2_rot" in text
    assert "pitch > 0 when its front (+x end) tips DOWN" in text
    assert "BODY frame" in text and "WORLD frame" in text


def test_envs_command_prints_the_automatic_abstraction():
    result = CliRunner().invoke(main, ["envs", "Swimmer-v5"])
    assert result.exit_code == 0, result.output
    assert "motor1_rot_qpos" in result.output and "torso_pos" in result.output


def test_program_on_automatic_features_passes_check(tmp_path):
    program = tmp_path / "swim.py"
    program.write_text(SWIMMER_PROGRAM)
    result = CliRunner().invoke(main, ["check", "--env", "Swimmer-v5", str(program)])
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output


def test_unknown_env_gets_did_you_mean():
    with pytest.raises(UnknownEnvError, match="did you mean"):
        load_spec("Swimer-v5")


def test_env_module_registers_a_users_env_here_and_in_the_worker(tmp_path, monkeypatch):
    # The worker's sandbox mounts an empty /tmp: the package lives under the repository.
    import tempfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / ".pytest_cache"
    root.mkdir(exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="env-module-", dir=root))
    package = home / "my_envs"
    package.mkdir()
    (package / "__init__.py").write_text(
        "import gymnasium as gym\n"
        "gym.register('MyPendulum-v0', entry_point='gymnasium.envs.classic_control:PendulumEnv',"
        " max_episode_steps=50)\n")
    program = tmp_path / "p.py"
    program.write_text("import numpy as np\n\ndef compute_reward(state, action, next_state):\n"
                       "    up = next_state.obs_0\n    return up, {'up': up}\n")
    monkeypatch.chdir(home)
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        shown = CliRunner().invoke(main, ["envs", "MyPendulum-v0", "--env-module", "my_envs"])
        assert shown.exit_code == 0, shown.output
        assert "obs_0" in shown.output
        checked = CliRunner().invoke(main, ["check", "--env", "MyPendulum-v0", "--env-module",
                                            "my_envs", str(program)])
        assert checked.exit_code == 0, checked.output
    finally:
        use_env_module(None)
        import shutil

        shutil.rmtree(home, ignore_errors=True)


def test_missing_env_module_is_a_clear_usage_error():
    result = CliRunner().invoke(main, ["envs", "--env-module", "no_such_envs_pkg"])
    assert result.exit_code == 2
    assert "no_such_envs_pkg" in result.output


# -- sign conventions, measured on the simulator ---------------------------------------------
def test_hopper_pitch_grows_when_the_torso_tips_forward():
    spec = load_spec("Hopper-v5")
    env, model, data, read = _sim("Hopper-v5", ["qpos:rooty", "zaxis:torso", "rpy:torso:pitch"])
    data.qpos[2] = 0.3  # rooty
    assert read("qpos:rooty") == pytest.approx(0.3)
    assert read("zaxis:torso")[0] > 0.25  # the torso's top moved toward +x: tipped forward
    assert read("rpy:torso:pitch") == pytest.approx(0.3, abs=1e-6)
    assert "tips FORWARD" in next(f.description for f in spec.features if f.name == "torso_pitch")
    env.close()


def test_halfcheetah_pitch_grows_when_the_head_tips_down():
    env, model, data, read = _sim("HalfCheetah-v5", ["xaxis:torso", "rpy:torso:pitch"])
    data.qpos[2] = 0.3  # rooty
    assert read("xaxis:torso")[2] < -0.25  # the head (+x end) went down
    assert read("rpy:torso:pitch") > 0.25
    env.close()


def test_ant_actuator_order_starts_at_hip_4():
    model = gym.make("Ant-v5").unwrapped.model
    joints = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, model.actuator_trnid[i, 0])
              for i in range(model.nu)]
    assert joints == ["hip_4", "ankle_4", "hip_1", "ankle_1",
                      "hip_2", "ankle_2", "hip_3", "ankle_3"]
    from text2reward.envs.auto import auto_spec

    assert "0: actuator 0 drives joint hip_4" in describe(auto_spec("Ant-v5"))
    assert "action[:, 0] hip_4, 1 ankle_4, 2 hip_1" in load_spec("Ant-v5").action


def test_ant_angular_velocity_frames():
    env, model, data, read = _sim("Ant-v5", ["qvel:root", "angvel:torso", "angvel_local:torso",
                                             "zaxis:torso"])
    rng = np.random.default_rng(0)
    quat = rng.normal(size=4)
    data.qpos[3:7] = quat / np.linalg.norm(quat)
    data.qvel[:] = rng.normal(size=model.nv)
    world, body = read("angvel:torso"), read("angvel_local:torso")
    rotation = data.xmat[1].reshape(3, 3)
    np.testing.assert_allclose(read("qvel:root")[3:], body, atol=1e-9)  # obs holds the body frame
    np.testing.assert_allclose(rotation @ body, world, atol=1e-9)
    assert not np.allclose(world, body)
    env.close()


def test_body_velocity_matches_finite_differences():
    env, model, data, read = _sim("Ant-v5", ["vel:aux_1", "pos:aux_1"])
    rng = np.random.default_rng(1)
    data.qvel[:] = rng.normal(size=model.nv)
    velocity, before = read("vel:aux_1"), read("pos:aux_1")
    qpos = data.qpos.copy()
    mujoco.mj_integratePos(model, qpos, data.qvel, 1e-6)
    data.qpos[:] = qpos
    np.testing.assert_allclose((read("pos:aux_1") - before) / 1e-6, velocity, atol=1e-4)
    env.close()


def test_ant_foot_tip_probe_touches_the_ground_at_rest():
    env, model, data, read = _sim("Ant-v5", ["point:body4:0.4,0.4,0"])
    for _ in range(40):
        env.step(np.zeros(8))
    assert read("point:body4:0.4,0.4,0")[2] == pytest.approx(0.09, abs=0.02)
    env.close()


def test_dict_observations_are_one_attribute_per_key():
    spec = load_spec("Swimmer-v5")
    obs = {"a": np.arange(6.0).reshape(2, 3), "b": np.ones((2, 1))}
    layout = StateLayout(ObsLayout.infer(obs))
    view = StateView.from_rows(spec, layout, layout.rows(obs))
    np.testing.assert_array_equal(view.obs.a, obs["a"])
    np.testing.assert_array_equal(view.obs["b"], obs["b"])
    with pytest.raises(ValueError):
        view.obs.a[0, 0] = 1.0
