"""Curated MuJoCo specs: success functions on hand-made state sequences, experts, sparse
baselines and families on real simulator batches, suites, and a toy training in the worker."""

from __future__ import annotations

import string
from functools import cache

import numpy as np
import pytest
from click.testing import CliRunner

from text2reward.cli import main
from text2reward.critic.runtime import collect_batches
from text2reward.critic.static import check_source
from text2reward.envs import Episode, StateView, list_specs, load_spec
from text2reward.program import RewardProgram
from text2reward.sandbox.job import Job
from text2reward.sandbox.local import run_job

MUJOCO = ["InvertedPendulum-v5", "InvertedDoublePendulum-v5", "Reacher-v5", "HalfCheetah-v5",
          "Hopper-v5", "Walker2d-v5", "Ant-v5"]
TASKS = [(env_id, name) for env_id in MUJOCO for name in load_spec(env_id).tasks]


def episode(steps: int = 1000, rewards=None, terminated=False, **features) -> Episode:
    """An episode of ``steps`` steps whose features are the given arrays (length steps + 1)."""
    rewards = np.zeros(steps) if rewards is None else np.asarray(rewards, dtype=np.float64)
    feats = {k: np.asarray(v, dtype=np.float64) for k, v in features.items()}
    return Episode(feats, np.zeros((steps, 1)), rewards, terminated, not terminated)


def score(env_id: str, task: str, ep: Episode) -> tuple[float, float]:
    t = load_spec(env_id).tasks[task]
    return t.score_fn()(ep), t.success_threshold


def passes(env_id, task, ep) -> bool:
    value, threshold = score(env_id, task, ep)
    return value >= threshold


def ramp(start, stop, n=1001):
    return np.linspace(start, stop, n)


# -- success functions on hand-made sequences --------------------------------------------------
def test_halfcheetah_front_flip_counts_a_full_turn_but_not_a_fall():
    flip = ramp(0.0, 2 * np.pi + 0.1, 40)
    flip = np.concatenate([flip, np.full(961, flip[-1])])
    assert passes("HalfCheetah-v5", "front_flip", episode(torso_pitch=flip))
    fall = np.concatenate([ramp(0.0, np.pi, 30), np.full(971, np.pi)])  # landed on its back
    assert not passes("HalfCheetah-v5", "front_flip", episode(torso_pitch=fall))
    back = -flip  # a back flip is not a front flip
    assert not passes("HalfCheetah-v5", "front_flip", episode(torso_pitch=back))


def test_halfcheetah_running_backward_and_forward():
    backward = episode(torso_x=ramp(0.0, -60.0))  # 60 m back in 50 s
    assert passes("HalfCheetah-v5", "run_backward", backward)
    assert not passes("HalfCheetah-v5", "run", backward)
    forward = episode(torso_x=ramp(0.0, 100.0))
    assert passes("HalfCheetah-v5", "run", forward)
    assert not passes("HalfCheetah-v5", "run_backward", forward)


def test_hopper_back_flip_counts_a_full_backward_turn_but_not_a_fall():
    flip = np.concatenate([ramp(0.0, -2 * np.pi - 0.2, 60), np.full(941, -2 * np.pi - 0.2)])
    assert passes("Hopper-v5", "back_flip", episode(torso_pitch=flip))
    fall = np.concatenate([ramp(0.0, -np.pi / 2, 60), np.full(941, -np.pi / 2)])
    assert not passes("Hopper-v5", "back_flip", episode(torso_pitch=fall))
    forward_flip = -flip
    assert not passes("Hopper-v5", "back_flip", episode(torso_pitch=forward_flip))


def test_hopper_hop_needs_distance():
    assert passes("Hopper-v5", "hop", episode(torso_x=ramp(0.0, 4.0)))
    assert not passes("Hopper-v5", "hop", episode(60, terminated=True, torso_x=ramp(0.0, 0.3, 61)))


def _walker(n=1001, height=1.2, right=0.05, left=0.05):
    full = lambda v: np.full(n, v) if np.isscalar(v) else v  # noqa: E731
    return episode(n - 1, torso_height=full(height), right_foot_height=full(right),
                   left_foot_height=full(left), torso_x=np.zeros(n))


def test_walker_standing_on_one_leg():
    assert passes("Walker2d-v5", "stand_one_leg", _walker(left=0.4))
    assert passes("Walker2d-v5", "stand_one_leg", _walker(right=0.35))
    assert not passes("Walker2d-v5", "stand_one_leg", _walker())  # both feet down
    assert not passes("Walker2d-v5", "stand_one_leg", _walker(right=0.4, left=0.4))  # jumping
    assert not passes("Walker2d-v5", "stand_one_leg", _walker(height=0.7, left=0.4))  # crouched
    short = _walker(101, left=0.4)  # fell after 100 steps: too short
    assert not passes("Walker2d-v5", "stand_one_leg", short)


def _ant(n=1001, height=0.38, up=(0.0, 0.0, 1.0), velocity=(0.0, 0.0, 0.0), foot=0.09, hip=0.0,
         x=None):
    return episode(n - 1, torso_height=np.full(n, height), torso_up=np.tile(up, (n, 1)),
                   torso_velocity=np.tile(velocity, (n, 1)),
                   front_left_foot=np.tile((0.5, 0.5, foot), (n, 1)),
                   hip_velocities=np.tile((hip, 0, 0, 0), (n, 1)),
                   torso_position=np.zeros((n, 3)) if x is None else np.stack(
                       [x, np.zeros(n), np.full(n, height)], 1))


def test_ant_lying_down_back_up_counts_falling_on_the_side_does_not():
    assert passes("Ant-v5", "lie_down", _ant())
    assert not passes("Ant-v5", "lie_down", _ant(height=0.3, up=(1.0, 0.0, 0.0)))  # on its side
    assert not passes("Ant-v5", "lie_down", _ant(height=0.3, up=(0.0, 0.0, -1.0)))  # upside down
    assert not passes("Ant-v5", "lie_down", _ant(height=0.55))  # standing
    assert not passes("Ant-v5", "lie_down", _ant(velocity=(0.5, 0.0, 0.0)))  # crawling


def test_ant_wave_leg_and_walk():
    assert passes("Ant-v5", "wave_leg", _ant(height=0.5, foot=0.35, hip=2.0))
    assert not passes("Ant-v5", "wave_leg", _ant(height=0.5, foot=0.35, hip=0.0))  # held still
    assert not passes("Ant-v5", "wave_leg", _ant(height=0.5, foot=0.09, hip=2.0))  # on the ground
    assert not passes("Ant-v5", "wave_leg", _ant(foot=0.35, hip=2.0, up=(1.0, 0, 0)))  # fallen
    assert passes("Ant-v5", "walk", _ant(x=ramp(0.0, 40.0)))
    assert not passes("Ant-v5", "walk", _ant(x=ramp(0.0, 5.0)))


def test_pendulums_and_reacher():
    assert passes("InvertedPendulum-v5", "balance", episode(rewards=np.ones(1000)))
    assert not passes("InvertedPendulum-v5", "balance", episode(50, rewards=np.ones(50)))
    right = episode(cart_position=np.full(1001, 0.5), pole_angle=np.zeros(1001))
    assert passes("InvertedPendulum-v5", "balance_right", right)
    centre = episode(cart_position=np.zeros(1001), pole_angle=np.zeros(1001))
    assert not passes("InvertedPendulum-v5", "balance_right", centre)
    assert passes("InvertedDoublePendulum-v5", "balance", episode(1000))
    assert not passes("InvertedDoublePendulum-v5", "balance", episode(80, terminated=True))
    assert passes("Reacher-v5", "reach", episode(50, distance=ramp(0.2, 0.01, 51)))
    assert not passes("Reacher-v5", "reach", episode(50, distance=ramp(0.2, 0.1, 51)))


def test_every_mujoco_task_has_hand_made_cases_above():
    covered = {("HalfCheetah-v5", t) for t in ("run", "run_backward", "front_flip")} | {
        ("Hopper-v5", "hop"), ("Hopper-v5", "back_flip"), ("Walker2d-v5", "stand_one_leg"),
        ("Ant-v5", "lie_down"), ("Ant-v5", "wave_leg"), ("Ant-v5", "walk"),
        ("InvertedPendulum-v5", "balance"), ("InvertedPendulum-v5", "balance_right"),
        ("InvertedDoublePendulum-v5", "balance"), ("Reacher-v5", "reach"), ("Walker2d-v5", "walk")}
    assert set(TASKS) <= covered
    assert passes("Walker2d-v5", "walk", episode(torso_x=ramp(0.0, 5.0)))


# -- programs on real simulator batches --------------------------------------------------------
@cache
def real_batch(env_id: str, task: str):
    spec = load_spec(env_id)
    layout, batches = collect_batches(spec, spec.env_kwargs(spec.tasks[task]), n_envs=4, steps=6)
    rows, actions, next_rows = (np.concatenate(x) for x in zip(*batches, strict=True))
    actions.flags.writeable = False
    return (StateView.from_rows(spec, layout, rows), actions,
            StateView.from_rows(spec, layout, next_rows))


def _run(env_id, task, source):
    assert check_source(source) == [], source
    state, action, next_state = real_batch(env_id, task)
    reward, components = RewardProgram.load(source)(state, action, next_state)
    assert reward.shape == (len(action),) and np.all(np.isfinite(reward))
    for name, value in components.items():
        assert np.asarray(value).shape == (len(action),), name


@pytest.mark.parametrize("env_id,task", TASKS)
def test_expert_sparse_and_family_run_on_real_states(env_id, task):
    t = load_spec(env_id).tasks[task]
    _run(env_id, task, t.expert_path.read_text())
    _run(env_id, task, (t.spec_dir / f"sparse_{task}.py").read_text())
    family = t.family
    for bound in (1, 2):
        params = {k: repr(float(v[bound])) for k, v in family.params.items()}
        lines = ["import numpy as np", "", "def compute_reward(state, action, next_state):"]
        for name, comp in family.components.items():
            expr = string.Template(comp["expr"]).substitute(params)
            lines.append(f"    {name} = {comp['weight'][2]!r} * ({expr})")
        names = list(family.components)
        components = ", ".join(f"{n!r}: {n}" for n in names)
        lines.append(f"    return {' + '.join(names)}, {{{components}}}")
        _run(env_id, task, "\n".join(lines) + "\n")


def test_simulator_features_read_the_terminal_state():
    """Hopper episodes end when unhealthy: the recorded last state must be the unhealthy one."""
    from stable_baselines3.common.env_util import make_vec_env

    from text2reward.training.wrapper import RewardVecEnv

    spec = load_spec("Hopper-v5")
    program = RewardProgram.load(load_spec("Hopper-v5").tasks["hop"].expert_path.read_text())
    episodes = []
    venv = RewardVecEnv(make_vec_env("Hopper-v5", n_envs=2, seed=0), spec, program,
                        lambda ep: episodes.append(ep) or 0.0)
    venv.reset()
    rng = np.random.default_rng(0)
    while len(episodes) < 3:
        venv.step(rng.uniform(-1, 1, (2, 3)).astype(np.float32))
    for ep in episodes:
        height, pitch = ep.features["torso_height"], ep.features["torso_pitch"]
        assert len(height) == ep.length + 1
        assert height[-1] < 0.7 or abs(pitch[-1]) > 0.2  # the terminal state is unhealthy
        assert height[0] > 1.2 and abs(pitch[0]) < 0.01  # and the first is a reset state
        np.testing.assert_allclose(ep.features["obs"][:, 0], height)  # obs[0] is rootz
    venv.close()


def test_gathering_in_process_and_through_infos_give_the_same_states():
    """DummyVecEnv envs are gathered by the wrapper itself: all rows in one indexing copy over
    the MjData arrays and the observation buffer, or env by env; envs wrapped by wrapper_class
    put every state in their infos (as SubprocVecEnv env processes do). All three must record
    the same episodes and pay the same rewards."""
    from stable_baselines3.common.env_util import make_vec_env

    from text2reward.envs.sim import SimFeatures
    from text2reward.training.wrapper import RewardVecEnv

    spec = load_spec("Hopper-v5")
    source = ("import numpy as np\n\n\ndef compute_reward(state, action, next_state):\n"
              "    up = next_state.torso_height - state.torso_height\n"
              "    x = next_state.torso_x + next_state.foot_contact\n"
              "    return up + 0.1 * x, {'up': up, 'x': x}\n")
    program = RewardProgram.load(source)
    runs = []
    for how in ("one copy", "env by env", "infos"):
        wrapper = SimFeatures if how == "infos" else None
        kwargs = {"probes": spec.probes} if wrapper else None
        venv = RewardVecEnv(make_vec_env("Hopper-v5", n_envs=3, seed=1, wrapper_class=wrapper,
                                         wrapper_kwargs=kwargs,
                                         env_kwargs={"max_episode_steps": 15}),
                            spec, program, lambda ep: float(ep.features["torso_x"][-1]))
        assert (venv._sims is None) == (how == "infos")
        if how == "env by env":
            venv._sims._bind = lambda layout: None  # never makes the single index
        venv.reset()
        if venv._sims is not None:
            assert (venv._sims._index is not None) == (how == "one copy")
        rng = np.random.default_rng(0)
        rewards = [venv.step(rng.uniform(-1, 1, (3, 3)).astype(np.float32))[1]
                   for _ in range(40)]
        runs.append((np.array(rewards), [e.score for e in venv.finished],
                     [raw["obs"] for raw in venv.recent_raw]))
        venv.close()
    rewards_a, scores_a, rows_a = runs[0]
    assert len(scores_a) >= 6
    for rewards_b, scores_b, rows_b in runs[1:]:
        assert scores_a == scores_b
        np.testing.assert_array_equal(rewards_a, rewards_b)
        for a, b in zip(rows_a, rows_b, strict=True):
            np.testing.assert_array_equal(a, b)


# -- listing and suites ---------------------------------------------------------------------------
def test_envs_lists_at_least_20_tasks_across_12_envs():
    specs = list_specs()
    tasks = [(s.env_id, t) for s in specs for t in s.tasks]
    assert len(tasks) >= 20 and len({e for e, _ in tasks}) >= 12
    result = CliRunner().invoke(main, ["envs"])
    assert result.exit_code == 0
    for env_id in MUJOCO:
        assert env_id in result.output


@pytest.mark.parametrize("suite", ["classic", "mujoco", "novel", "goals"])
def test_suites_list_their_tasks(suite):
    from text2reward.batch import load_suite

    tasks = load_suite(suite)
    assert len(tasks) >= 3
    result = CliRunner().invoke(main, ["envs", "--suite", suite])
    assert result.exit_code == 0, result.output
    assert tasks[0].name in result.output


def test_unknown_suite_is_a_usage_error():
    result = CliRunner().invoke(main, ["envs", "--suite", "nope"])
    assert result.exit_code == 2 and "suites:" in result.output


# -- a toy training through the real worker ------------------------------------------------------
def test_halfcheetah_toy_training_with_simulator_features_in_the_worker(tmp_path):
    program = tmp_path / "program.py"
    program.write_text(load_spec("HalfCheetah-v5").tasks["run"].expert_path.read_text())
    job = Job("train", "HalfCheetah-v5", str(program), str(tmp_path), task="run",
              timesteps=2048, n_envs=4, device="cpu", timeout_s=300,
              hyperparams={"n_steps": 256, "batch_size": 256})
    result = run_job(job)
    assert result["status"] == "trained", result
    assert result["steps"] >= 2048
    assert set(result["eval"]["components"]) == {"forward", "effort"}  # 1000-step eval episodes
    assert np.isfinite(result["eval"]["score"])
