# category: import escape
# expected: static
# why: __import__ is refused
import numpy as np


def compute_reward(state, action, next_state):
    os = __import__("os")
    return np.ones(len(next_state.obs)) * os.getpid(), {}
