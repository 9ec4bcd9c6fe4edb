# category: numpy I/O
# expected: static
# why: np.ctypeslib loads shared libraries
import numpy as np


def compute_reward(state, action, next_state):
    lib = np.ctypeslib.load_library("libc", "/lib")
    return next_state.obs[:, 0], {}
