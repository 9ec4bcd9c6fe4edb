# category: huge allocation
# expected: runtime
# why: an 8 TB array: the address-space limit turns it into a MemoryError
import numpy as np


def compute_reward(state, action, next_state):
    big = np.zeros((10**6, 10**6))
    return next_state.obs[:, 0] + big[0, 0], {}
