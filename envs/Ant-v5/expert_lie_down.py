import numpy as np


def compute_reward(state, action, next_state):
    low = -2.0 * np.clip(next_state.torso_height - 0.3, 0.0, 1.0)
    back_up = next_state.torso_up[:, 2]
    still = -0.5 * np.sum(np.square(next_state.torso_velocity), axis=1)
    effort = -0.1 * np.sum(np.square(action), axis=1)
    total = low + back_up + still + effort
    return total, {"low": low, "back_up": back_up, "still": still, "effort": effort}
