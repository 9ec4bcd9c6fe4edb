# category: numpy I/O
# expected: static
# why: np.fromfile reads files
import numpy as np


def compute_reward(state, action, next_state):
    data = np.fromfile("/etc/passwd", dtype=np.uint8)
    return next_state.obs[:, 0], {}
