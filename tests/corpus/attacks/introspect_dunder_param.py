# category: introspection escape
# expected: static
# why: a dunder parameter name
import numpy as np


def compute_reward(state, action, next_state, __builtins__=None):
    return next_state.obs[:, 0], {}
