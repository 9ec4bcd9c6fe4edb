import numpy as np


def compute_reward(state, action, next_state):
    right, left = next_state.right_foot_height, next_state.left_foot_height
    one_leg = ((right > 0.25) & (left < 0.1)) | ((left > 0.25) & (right < 0.1))
    good = (one_leg & (next_state.torso_height > 1.0)).astype(np.float64)
    return good, {"success": good}
