# category: huge allocation
# expected: runtime
# why: an 80 GB list: MemoryError under the address-space limit
import numpy as np


def compute_reward(state, action, next_state):
    big = [0.0] * 10**10
    return next_state.obs[:, 0] + big[0], {}
