"""Goal-conditioned and benchmark envs (the `goals` suite; `pip install 'text2reward[goals]'`):
FetchReach (dict observations), Meta-World reach, MiniGrid (features read from the env)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from click.testing import CliRunner

from text2reward.cli import main
from text2reward.critic.runtime import collect_batches
from text2reward.envs import Episode, StateView, load_spec
from text2reward.errors import UsageError
from text2reward.program import RewardProgram

FETCH, METAWORLD, MINIGRID = ("FetchReach-v4", "Meta-World/MT1",
                              "text2reward/MiniGrid-Empty-Random-6x6-v0")
needs = {FETCH: "gymnasium_robotics", METAWORLD: "metaworld", MINIGRID: "minigrid"}


def _require(env_id: str) -> None:
    pytest.importorskip(needs[env_id])
    load_spec(env_id).prepare()


def _episode(steps, **features):
    feats = {k: np.asarray(v, dtype=np.float64) for k, v in features.items()}
    return Episode(feats, np.zeros((steps, 1)), np.zeros(steps), False, True)


def _passes(env_id, task, ep):
    t = load_spec(env_id).tasks[task]
    return t.score_fn()(ep) >= t.success_threshold


def test_goal_success_functions_on_hand_made_sequences():
    assert _passes(FETCH, "reach", _episode(50, goal_distance=np.linspace(0.3, 0.02, 51)))
    assert not _passes(FETCH, "reach", _episode(50, goal_distance=np.linspace(0.3, 0.1, 51)))
    passing = np.concatenate([np.linspace(0.3, 0.03, 100), np.linspace(0.03, 0.2, 401)])
    assert _passes(METAWORLD, "reach", _episode(500, goal_distance=passing))
    assert not _passes(METAWORLD, "reach", _episode(500, goal_distance=np.full(501, 0.2)))
    assert _passes(MINIGRID, "reach_goal", _episode(6, goal_distance=[4, 3, 2, 2, 1, 1, 0]))
    assert not _passes(MINIGRID, "reach_goal", _episode(144, goal_distance=np.full(145, 2)))


def test_fetch_dict_observation_features():
    _require(FETCH)
    spec = load_spec(FETCH)
    assert spec.training["policy"] == "MultiInputPolicy"
    layout, batches = collect_batches(spec, {}, n_envs=2, steps=3)
    rows, _, next_rows = batches[-1]
    view = StateView.from_rows(spec, layout, next_rows)
    np.testing.assert_allclose(view.gripper_position, view.obs.achieved_goal)
    np.testing.assert_allclose(view.goal_position, view.obs["desired_goal"])
    gap = view.obs.achieved_goal - view.obs.desired_goal
    np.testing.assert_allclose(view.goal_distance, np.linalg.norm(gap, axis=1))
    assert view.obs.observation.shape == (2, 10)


def test_minigrid_features_come_from_the_env_and_see_the_goal(tmp_path):
    _require(MINIGRID)
    spec = load_spec(MINIGRID)
    program = RewardProgram.load(spec.tasks["reach_goal"].expert_path.read_text())
    layout, batches = collect_batches(spec, {}, n_envs=4, steps=40)
    for rows, actions, next_rows in batches:
        state, next_state = (StateView.from_rows(spec, layout, r) for r in (rows, next_rows))
        assert np.all((next_state.agent_x >= 1) & (next_state.agent_x <= 4))
        assert set(np.unique(next_state.agent_direction)) <= {0, 1, 2, 3}
        reward, _ = program(state, actions, next_state)
        assert reward.shape == (4,)


def test_goal_envs_pass_the_check_command(tmp_path):
    for env_id in (FETCH, METAWORLD, MINIGRID):
        _require(env_id)
        expert = load_spec(env_id).tasks[next(iter(load_spec(env_id).tasks))].expert_path
        result = CliRunner().invoke(main, ["check", "--env", env_id, str(expert)])
        assert result.exit_code == 0, (env_id, result.output)


def test_fetch_trains_with_a_multi_input_policy(tmp_path):
    _require(FETCH)
    from text2reward.training.scoring import load_scorer
    from text2reward.training.trainer import train

    spec = load_spec(FETCH)
    program = RewardProgram.load(spec.tasks["reach"].expert_path.read_text())
    preset = spec.training_preset(spec.tasks["reach"])
    preset.update(timesteps=512, n_envs=2, eval_episodes=2, env_kwargs={})
    preset["hyperparams"].update(n_steps=128, batch_size=128)
    result = train(spec, program, load_scorer(spec, "reach", None), preset, tmp_path, device="cpu")
    assert result["steps"] >= 512 and result["eval"]["episodes"] == 2


def test_a_missing_package_is_reported_clearly():
    spec = dataclasses.replace(load_spec(MINIGRID), module="no_such_pkg_for_t2r",
                               requires="pip install 'text2reward[goals]'")
    with pytest.raises(UsageError, match=r"not installed; install it: pip install"):
        spec.prepare()


def test_meta_world_steps_in_env_processes_under_the_reward_wrapper():
    """Meta-World registers lambdas, so its env spec cannot be pickled: the wrapper must not ask
    an env process for it (the process died and the training hung when its env was slow)."""
    from text2reward.training.scoring import load_scorer
    from text2reward.training.trainer import make_vec_env
    from text2reward.training.wrapper import RewardVecEnv

    _require(METAWORLD)
    spec = load_spec(METAWORLD)
    task = spec.tasks["reach"]
    program = RewardProgram.load(task.expert_path.read_text())
    venv = RewardVecEnv(make_vec_env(spec, spec.env_kwargs(task), 2, 0, "subproc"), spec,
                        program, load_scorer(spec, "reach", None).fn)
    try:
        venv.reset()
        for _ in range(3):
            _, reward, _, _ = venv.step(np.zeros((2, 4)))
        assert reward.shape == (2,) and np.all(np.isfinite(reward))
    finally:
        venv.close()
