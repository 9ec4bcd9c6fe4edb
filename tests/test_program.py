"""Loading and calling reward programs against the vetted surface."""

import numpy as np
import pytest

from text2reward.envs import StateView, load_spec
from text2reward.errors import ProgramError
from text2reward.program import RejectedProgram, RewardProgram, code_hash, read_program

SPEC = load_spec("CartPole-v1")
OBS = np.array([[0.1, 0.0, 0.05, 0.0], [-0.5, 1.0, -0.1, 0.2]])


def call(source):
    program = RewardProgram.load(source)
    view = StateView.from_obs(SPEC, OBS)
    return program(view, np.array([0, 1]), view)


def test_batched_call_returns_reward_and_components():
    reward, comps = call("import numpy as np\ndef compute_reward(s, a, n):\n"
                         "    up = np.cos(n.pole_angle)\n    return up, {'up': up}\n")
    assert reward.shape == (2,)
    np.testing.assert_allclose(reward, np.cos(OBS[:, 2]))
    assert set(comps) == {"up"}


def test_vetted_numpy_has_no_io_even_when_reached_at_runtime():
    program = RewardProgram.load(
        "import numpy as np\ndef compute_reward(s, a, n):\n    return 0, {}\n")
    np_seen = program.fn.__globals__["np"]
    for name in ("save", "load", "fromfile", "memmap", "ctypeslib", "lib", "random"):
        assert not hasattr(np_seen, name)


def test_static_rejection_raises_with_findings():
    with pytest.raises(RejectedProgram) as info:
        RewardProgram.load("import subprocess\ndef compute_reward(s, a, n):\n    return 0, {}\n")
    assert "import subprocess" in str(info.value)


def test_state_views_are_read_only():
    view = StateView.from_obs(SPEC, OBS)
    with pytest.raises(ValueError):
        view.pole_angle[0] = 0.0
    with pytest.raises(AttributeError):
        view.pole_angle = np.zeros(2)
    with pytest.raises(AttributeError, match="features: cart_position"):
        _ = view.pole_height


def test_code_hash_ignores_trailing_whitespace():
    assert code_hash("a = 1\n") == code_hash("a = 1   \n\n")
    assert code_hash("a = 1\n") != code_hash("a = 2\n")


def test_missing_reward_file_is_a_usage_error(tmp_path):
    with pytest.raises(ProgramError, match="does not exist"):
        read_program(tmp_path / "nope.py")
