# category: import escape
# expected: runtime
# why: an alias hides np from the static check, but the vetted numpy has no lib at all
import numpy as np


def compute_reward(state, action, next_state):
    n = np
    strided = n.lib.stride_tricks.as_strided(next_state.obs, shape=(1 << 30,), strides=(8,))
    return next_state.obs[:, 0], {}
