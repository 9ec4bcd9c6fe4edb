# category: file read
# expected: static
# why: open is not in the surface; reading files is refused
import numpy as np


def compute_reward(state, action, next_state):
    secret = open("/etc/passwd").read()
    return np.ones(len(next_state.obs)) * len(secret), {}
