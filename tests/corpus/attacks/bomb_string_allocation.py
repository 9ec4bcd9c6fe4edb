# category: huge allocation
# expected: runtime
# why: a 16 GB string: MemoryError under the address-space limit
import numpy as np


def compute_reward(state, action, next_state):
    big = "x" * (16 * 2**30)
    return next_state.obs[:, 0] + len(big), {}
