import numpy as np


def compute_reward(state, action, next_state):
    lifted = next_state.front_left_foot[:, 2] > 0.25
    moving = np.abs(next_state.hip_velocities[:, 0]) > 1.0
    good = (lifted & moving & (next_state.torso_up[:, 2] > 0.8)).astype(np.float64)
    return good, {"success": good}
