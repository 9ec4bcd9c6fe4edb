# category: numpy I/O
# expected: static
# why: np.memmap maps files
import numpy as np


def compute_reward(state, action, next_state):
    m = np.memmap("/tmp/t2r-memmap", mode="w+", shape=(10,))
    return next_state.obs[:, 0], {}
