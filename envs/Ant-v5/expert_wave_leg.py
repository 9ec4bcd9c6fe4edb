import numpy as np


def compute_reward(state, action, next_state):
    lift = 3.0 * np.clip(next_state.front_left_foot[:, 2], 0.0, 0.4)
    wave = 0.5 * np.clip(np.abs(next_state.hip_velocities[:, 0]), 0.0, 3.0)
    upright = next_state.torso_up[:, 2]
    still = -0.2 * np.sum(np.square(next_state.torso_velocity[:, :2]), axis=1)
    total = lift + wave + upright + still
    return total, {"lift": lift, "wave": wave, "upright": upright, "still": still}
