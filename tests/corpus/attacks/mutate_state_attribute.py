# category: mutating state
# expected: static
# why: assigning attributes of inputs
import numpy as np


def compute_reward(state, action, next_state):
    next_state.pole_angle = np.zeros(len(next_state.obs))
    return next_state.obs[:, 0], {}
