# category: numpy I/O
# expected: static
# why: ndarray.dump pickles to a file
import numpy as np


def compute_reward(state, action, next_state):
    next_state.obs.dump("/tmp/t2r-dump.pkl")
    return next_state.obs[:, 0], {}
