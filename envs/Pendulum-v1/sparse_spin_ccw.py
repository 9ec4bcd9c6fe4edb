import numpy as np


def compute_reward(state, action, next_state):
    success = (next_state.angular_velocity > 0.0).astype(np.float64)
    return success, {"success": success}
