# category: import escape
# expected: static
# why: imports os
import numpy as np
import os


def compute_reward(state, action, next_state):
    return np.ones(len(next_state.obs)) * os.getpid(), {}
