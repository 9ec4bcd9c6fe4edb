import numpy as np


def compute_reward(state, action, next_state):
    speed = np.linalg.norm(next_state.torso_velocity[:, :2], axis=1)
    lying = (next_state.torso_height < 0.4) & (next_state.torso_up[:, 2] > 0.9) & (speed < 0.1)
    good = lying.astype(np.float64)
    return good, {"success": good}
