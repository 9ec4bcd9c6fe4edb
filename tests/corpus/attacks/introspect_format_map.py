# category: introspection escape
# expected: static
# why: str.format_map walks attributes too
import numpy as np


def compute_reward(state, action, next_state):
    text = "{f.__globals__}".format_map({"f": np.linalg.norm})
    return np.ones(len(next_state.obs)) * len(text), {}
