# category: numpy I/O
# expected: static
# why: the raw ndarray constructor wraps arbitrary buffers
import numpy as np


def compute_reward(state, action, next_state):
    raw = np.ndarray((1 << 20,), dtype=np.uint8, buffer=next_state.obs, offset=0)
    return next_state.obs[:, 0], {}
