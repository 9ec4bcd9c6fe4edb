"""Each curated task's expert reward trains a policy that succeeds within the task's preset budget.

Slow (seconds to minutes per task on 2 CPU cores): run with ``pytest -m slow``.
"""

from __future__ import annotations

import pytest

from text2reward.envs import load_spec
from text2reward.program import RewardProgram
from text2reward.training.scoring import load_scorer
from text2reward.training.trainer import train

pytestmark = pytest.mark.slow

# Every classic env's own goal, plus the novel tasks whose experts were measured to succeed.
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
]


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("env_id,task", EXPERT_TASKS)
def test_expert_reaches_success(env_id, task, tmp_path):
    spec = load_spec(env_id)
    t = spec.tasks[task]
    program = RewardProgram.load(t.expert_path.read_text())
    scorer = load_scorer(spec, task, None)
    preset = spec.training_preset(t)
    preset["env_kwargs"] = spec.env_kwargs(t)
    result = train(spec, program, scorer, preset, tmp_path, seed=0, device="cpu")
    assert result["eval"]["score"] >= t.success_threshold, result["eval"]
