import numpy as np


def compute_reward(state, action, next_state):
    success = ((np.abs(next_state.angle) < 0.25) & (np.abs(next_state.angular_velocity) < 2.0)).astype(np.float64)
    return success, {"success": success}
