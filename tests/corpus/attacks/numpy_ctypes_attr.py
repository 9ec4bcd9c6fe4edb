# category: numpy I/O
# expected: static
# why: raw memory addresses
import numpy as np


def compute_reward(state, action, next_state):
    address = action.ctypes.data
    return next_state.obs[:, 0], {}
