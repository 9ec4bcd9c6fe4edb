# category: introspection escape
# expected: static
# why: str.format walks attributes named in the format string
import numpy as np


def compute_reward(state, action, next_state):
    text = "{0.__init__.__globals__}".format(np.linalg.norm)
    return np.ones(len(next_state.obs)) * len(text), {}
