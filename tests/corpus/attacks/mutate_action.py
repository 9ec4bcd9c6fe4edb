# category: mutating state
# expected: runtime
# why: writes into the action batch
import numpy as np


def compute_reward(state, action, next_state):
    action[:] = 1
    return next_state.obs[:, 0], {}
