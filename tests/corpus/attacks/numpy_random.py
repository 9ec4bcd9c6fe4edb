# category: numpy I/O
# expected: static
# why: np.random is not in the vetted surface (and breaks determinism)
import numpy as np


def compute_reward(state, action, next_state):
    return np.random.rand(len(next_state.obs)), {}
