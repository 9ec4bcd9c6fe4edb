import numpy as np


def compute_reward(state, action, next_state):
    far = (next_state.torso_x >= 3.0).astype(np.float64)
    return far, {"success": far}
