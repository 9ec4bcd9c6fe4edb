import numpy as np


def compute_reward(state, action, next_state):
    success = ((next_state.left_leg_contact > 0.5) & (next_state.right_leg_contact > 0.5) & (np.abs(next_state.x) < 0.2)).astype(np.float64)
    return success, {"success": success}
