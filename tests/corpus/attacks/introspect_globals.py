# category: introspection escape
# expected: static
# why: module state access
import numpy as np


def compute_reward(state, action, next_state):
    g = globals()
    return next_state.obs[:, 0], {}
