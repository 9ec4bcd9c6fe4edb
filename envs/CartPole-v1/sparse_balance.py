import numpy as np


def compute_reward(state, action, next_state):
    upright = (np.abs(next_state.pole_angle) < 0.2095) & (np.abs(next_state.cart_position) < 2.4)
    success = upright.astype(np.float64)
    return success, {"success": success}
