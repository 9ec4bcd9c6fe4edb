# category: file read
# expected: static
# why: __builtins__ is a dunder name
import numpy as np


def compute_reward(state, action, next_state):
    opener = __builtins__["open"]
    return np.ones(len(next_state.obs)) * len(opener("/etc/passwd").read()), {}
