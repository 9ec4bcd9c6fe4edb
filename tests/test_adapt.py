"""Harmless habits of generated programs are adapted before the critics, and recorded; what
the reward computes never changes."""

from __future__ import annotations

import numpy as np
import pytest

from text2reward.critic.adapt import adapt
from text2reward.critic.static import check_source
from text2reward.envs.spec import load_spec
from text2reward.envs.state import StateView
from text2reward.program import RewardProgram

N = 5


def call(source: str):
    """Load through the static critic and the vetted namespace; call on a CartPole batch."""
    spec = load_spec("CartPole-v1")
    rows = np.linspace(-0.1, 0.1, N * 4).reshape(N, 4)
    state = StateView.from_rows(spec, _layout(), rows)
    return RewardProgram.load(source)(state, np.zeros(N, dtype=np.int64), state)


def _layout():
    import gymnasium as gym

    from text2reward.envs.layout import ObsLayout, StateLayout

    return StateLayout(ObsLayout.from_space(gym.make("CartPole-v1").observation_space), None)


def accepted(source: str) -> tuple[str, list[str]]:
    adapted, changes = adapt(source)
    findings = check_source(adapted)
    assert not findings, [str(f) for f in findings] + [adapted]
    return adapted, changes


TYPED = '''"""A typed reward."""
from typing import Dict, Tuple

import numpy as np


def compute_reward(state, action: np.ndarray,
                   next_state) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    upright: np.ndarray = np.cos(next_state.pole_angle)  # peaks when vertical
    return upright, {"upright": upright}
'''


def test_typing_imports_and_ndarray_annotations_are_kept_unevaluated() -> None:
    adapted, changes = accepted(TYPED)
    assert "from typing" not in adapted and "-> Tuple[np.ndarray" in adapted
    assert adapted.index('"""A typed reward."""') < adapted.index("from __future__")
    assert "# peaks when vertical" in adapted  # comments survive
    assert any("never evaluated" in c for c in changes)
    reward, components = call(adapted)
    assert reward.shape == (N,) and np.allclose(components["upright"], reward)


def test_typing_used_in_code_is_not_dropped_and_is_refused() -> None:
    source = TYPED.replace('return upright, {"upright": upright}',
                           'return upright, Dict(upright=upright)')
    adapted, _ = adapt(source)
    assert "from typing import" in adapted
    assert any("typing" in f.construct for f in check_source(adapted))


METHOD = '''import numpy as np


def compute_reward(self, state, action, next_state, scale=0.5, *args, **kwargs):
    upright = np.cos(next_state.pole_angle)
    return upright, {"upright": upright}
'''


def test_self_and_unused_keyword_parameters_are_dropped() -> None:
    adapted, changes = accepted(METHOD)
    assert "def compute_reward(state, action, next_state):" in adapted
    assert "self" in changes[0] and "scale" in changes[0] and "kwargs" in changes[0]


def test_a_used_keyword_parameter_is_kept_and_refused() -> None:
    source = METHOD.replace("np.cos(next_state.pole_angle)",
                            "scale * np.cos(next_state.pole_angle)")
    adapted, _ = adapt(source)
    assert "scale=0.5" in adapted
    assert check_source(adapted)


def test_a_dunder_parameter_is_no_habit_and_is_left_for_the_critic() -> None:
    source = METHOD.replace("self, ", "").replace("scale=0.5", "__builtins__=None")
    adapted, changes = adapt(source)
    assert "__builtins__=None" in adapted and not any("__builtins__" in c for c in changes)
    assert check_source(adapted)


MAIN_BLOCK = '''import numpy as np

WEIGHT = 0.1


def compute_reward(state, action, next_state):
    centred = -WEIGHT * np.square(next_state.cart_position)
    return centred, {"centred": centred}


print("reward loaded")
assert WEIGHT > 0

if __name__ == "__main__":
    class S:
        cart_position = np.zeros(3)
    print(compute_reward(S, None, S))
'''


def test_main_block_and_top_level_prints_and_asserts_are_removed() -> None:
    adapted, changes = accepted(MAIN_BLOCK)
    assert "__main__" not in adapted and "print" not in adapted and "assert" not in adapted
    assert len(changes) == 3
    assert call(adapted)[0].shape == (N,)


REWARD_ONLY = '''import numpy as np


def compute_reward(state, action, next_state):
    if np.all(next_state.cart_position == 0): return np.ones_like(next_state.pole_angle)
    return np.cos(next_state.pole_angle)
'''


def test_reward_only_return_gets_a_reward_component() -> None:
    adapted, changes = accepted(REWARD_ONLY)
    assert "reward alone" in adapted and "returns only the reward" in changes[0]
    reward, components = call(adapted)
    assert list(components) == ["reward"] and np.array_equal(components["reward"], reward)


def test_a_tuple_returned_through_a_helper_passes_unchanged() -> None:
    source = ('import numpy as np\n\n\ndef parts(s):\n    r = np.cos(s.pole_angle)\n'
              '    return r, {"up": r}\n\n\ndef compute_reward(state, action, next_state):\n'
              '    return parts(next_state)\n')
    adapted, _ = accepted(source)
    reward, components = call(adapted)
    assert list(components) == ["up"]


SCALAR = '''import numpy as np


def compute_reward(state, action, next_state):
    healthy = 1.0
    upright = np.cos(next_state.pole_angle)
    parts = {"healthy": healthy, "upright": upright, "cost": -0.5}
    return healthy + upright - 0.5, parts
'''


def test_scalar_components_are_broadcast_per_env() -> None:
    adapted, changes = accepted(SCALAR)
    assert "'healthy'" in changes[0] and "'cost'" in changes[0]
    reward, components = call(adapted)
    assert components["healthy"].shape == (N,) and np.all(components["healthy"] == 1.0)
    assert np.allclose(sum(components.values()), reward)


def test_a_name_assigned_an_array_somewhere_is_not_treated_as_a_scalar() -> None:
    source = SCALAR.replace("    upright =", "    if True:\n        healthy = "
                            "np.ones_like(next_state.pole_angle)\n    upright =")
    changes = adapt(source)[1]
    assert len(changes) == 1 and "'healthy'" not in changes[0] and "'cost'" in changes[0]


@pytest.mark.parametrize("source", [MAIN_BLOCK, TYPED, METHOD, REWARD_ONLY, SCALAR])
def test_adapting_twice_changes_nothing_more(source: str) -> None:
    once, _ = adapt(source)
    assert adapt(once) == (once, [])


def test_code_that_does_not_parse_is_left_to_the_critic() -> None:
    assert adapt("def compute_reward(s, a, n)\n    return 0") == (
        "def compute_reward(s, a, n)\n    return 0", [])
