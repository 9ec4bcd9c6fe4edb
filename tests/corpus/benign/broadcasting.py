# benign: broadcasting against module-level tuple constants, reductions over axes
import numpy as np

TARGET = (0.0, 0.0, 0.0, 0.0)
SCALES = (1.0, 0.5, 4.0, 0.5)


def compute_reward(state, action, next_state):
    obs = next_state.obs
    error = (obs - np.array(TARGET)[None, :]) * np.asarray(SCALES)
    distance = np.sqrt(np.sum(np.square(error), axis=1))
    per_feature = np.exp(-np.abs(error))
    closeness = per_feature.mean(axis=-1)
    progress = np.linalg.norm(state.obs, axis=1) - np.linalg.norm(obs, axis=1)
    total = closeness - 0.1 * distance + 0.5 * progress
    return total, {"closeness": closeness, "distance": -0.1 * distance, "progress": 0.5 * progress}
