# category: mutating state
# expected: runtime
# why: writes into next_state to fake an upright pole: inputs are read-only
import numpy as np


def compute_reward(state, action, next_state):
    next_state.obs[:, 2] = 0.0
    return np.ones(len(next_state.obs)), {}
