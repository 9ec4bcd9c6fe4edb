# category: introspection escape
# expected: static
# why: rebinds __builtins__ through an import alias
from math import pi as __builtins__


def compute_reward(state, action, next_state):
    return next_state.obs[:, 0], {}
