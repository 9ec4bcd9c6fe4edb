import numpy as np


def compute_reward(state, action, next_state):
    good = (next_state.cart_position > 0.0) & (np.abs(next_state.pole_angle) < 0.2095)
    success = good.astype(np.float64)
    return success, {"success": success}
