# category: numpy I/O
# expected: static
# why: the base of a read-only view
import numpy as np


def compute_reward(state, action, next_state):
    owner = next_state.pole_angle.base
    return next_state.obs[:, 0], {}
