# category: numpy I/O
# expected: static
# why: ndarray.tofile writes files
import numpy as np


def compute_reward(state, action, next_state):
    next_state.obs.tofile("/tmp/t2r-tofile.bin")
    return next_state.obs[:, 0], {}
