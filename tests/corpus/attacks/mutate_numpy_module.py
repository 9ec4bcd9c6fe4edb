# category: mutating state
# expected: static
# why: assigning into the numpy module
import numpy as np


def compute_reward(state, action, next_state):
    np.cos = np.sin
    return np.cos(next_state.pole_angle), {}
