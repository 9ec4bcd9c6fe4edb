# benign: np.linalg.norm on vector features, `from numpy import linalg`, dot products
import numpy as np
from numpy import linalg


def compute_reward(state, action, next_state):
    position = next_state.obs[:, :2]
    angular = next_state.obs[:, 2:]
    speed = linalg.norm(position, axis=1)
    spin = np.linalg.norm(angular, ord=2, axis=-1)
    alignment = np.einsum("ij,ij->i", state.obs, next_state.obs)
    stability = -np.clip(speed + spin, 0.0, 10.0)
    total = stability + 0.01 * np.tanh(alignment)
    return total, {"stability": stability, "alignment": 0.01 * np.tanh(alignment)}
