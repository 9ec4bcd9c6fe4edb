import numpy as np


def compute_reward(state, action, next_state):
    fast = (next_state.forward_velocity <= -1.0).astype(np.float64)
    return fast, {"success": fast}
