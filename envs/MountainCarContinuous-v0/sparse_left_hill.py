import numpy as np


def compute_reward(state, action, next_state):
    success = (next_state.position <= -1.19).astype(np.float64)
    return success, {"success": success}
