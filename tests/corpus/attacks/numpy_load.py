# category: numpy I/O
# expected: static
# why: np.load reads files and unpickles
import numpy as np


def compute_reward(state, action, next_state):
    return np.load("/tmp/x.npy", allow_pickle=True), {}
