# category: numpy I/O
# expected: static
# why: makes a read-only input writable
import numpy as np


def compute_reward(state, action, next_state):
    next_state.obs.setflags(write=True)
    return next_state.obs[:, 0], {}
