# category: numpy I/O
# expected: static
# why: np.save writes files; bypassed with real numpy, Landlock refuses the write
import numpy as np


def compute_reward(state, action, next_state):
    np.save(OUTSIDE + "/saved.npy", next_state.obs)
    return next_state.obs[:, 0], {}
