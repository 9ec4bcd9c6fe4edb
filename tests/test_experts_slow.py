"""Each curated task's expert reward trains a policy that succeeds within the task's preset budget.

Slow (seconds to minutes per task on 2 CPU cores): run with ``pytest -m slow``.
"""

from __future__ import annotations

import pytest

from text2reward.envs import load_spec
from text2reward.program import RewardProgram
from text2reward.training.presets import build_preset
from text2reward.training.scoring import load_scorer
from text2reward.training.trainer import train

pytestmark = pytest.mark.slow

# Every classic env's own goal, plus the tasks whose experts were measured to succeed.
EXPERT_TASKS = [
    ("CartPole-v1", "balance"),
    ("CartPole-v1", "right_half"),
    ("MountainCarContinuous-v0", "reach_flag"),
    ("MountainCarContinuous-v0", "left_hill"),
    ("Pendulum-v1", "swing_up"),
    ("Pendulum-v1", "spin_ccw"),
    ("Acrobot-v1", "swing_up"),
    ("Acrobot-v1", "pivot_level"),
    ("LunarLander-v3", "land"),
    ("LunarLander-v3", "hover"),
    # MuJoCo and goal tasks whose experts met their thresholds at the current presets
    # (docs/results/experts.md, or the issue that asked for the calibration where the preset
    # has not changed since): minutes each on 2 cores.
    ("InvertedPendulum-v5", "balance"),
    ("InvertedPendulum-v5", "balance_right"),
    ("InvertedDoublePendulum-v5", "balance"),
    ("Reacher-v5", "reach"),
    ("Hopper-v5", "hop"),
    ("Hopper-v5", "back_flip"),
    ("Walker2d-v5", "walk"),
    ("Walker2d-v5", "stand_one_leg"),
    ("HalfCheetah-v5", "run"),
    ("Ant-v5", "lie_down"),
    ("Meta-World/MT1", "reach"),
    ("HalfCheetah-v5", "run_backward"),
    ("HalfCheetah-v5", "front_flip"),
    ("Ant-v5", "wave_leg"),
    ("Ant-v5", "walk"),
    ("FetchReach-v4", "reach"),
    ("text2reward/MiniGrid-Empty-Random-6x6-v0", "reach_goal"),
]


# Seconds a training may take: HalfCheetah run took about 32 min on a loaded core. Ant walk
# (SAC, one gradient step per env step) took 3,912 s for its 300k steps on one loaded core and
# 7,902 s beside two other trainings on the 2 cores.
TIMEOUT_S = {("Ant-v5", "walk"): 4 * 3600}


@pytest.mark.parametrize("env_id,task", [
    pytest.param(*key, marks=pytest.mark.timeout(TIMEOUT_S.get(key, 3600)))
    for key in EXPERT_TASKS])
def test_expert_reaches_success(env_id, task, tmp_path):
    spec = load_spec(env_id)
    t = spec.tasks[task]
    program = RewardProgram.load(t.expert_path.read_text())
    scorer = load_scorer(spec, task, None)
    preset = build_preset(spec, t)  # as a worker builds it (env kwargs included)
    result = train(spec, program, scorer, preset, tmp_path, seed=0, device="cpu")
    assert result["eval"]["score"] >= t.success_threshold, result["eval"]
