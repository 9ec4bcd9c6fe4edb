# category: mutating state
# expected: runtime
# why: writes into a feature view
import numpy as np


def compute_reward(state, action, next_state):
    angle = next_state.pole_angle
    angle[:] = 0.0
    return np.cos(angle), {}
