# category: introspection escape
# expected: static
# why: type() reaches classes and their methods
import numpy as np


def compute_reward(state, action, next_state):
    cls = type(action)
    return next_state.obs[:, 0], {}
