# benign: isinstance with np.ndarray, using the action batch, dtype conversions, asserts
import numpy as np


def _as_float(x):
    if isinstance(x, np.ndarray):
        return x.astype(np.float64)
    return np.asarray(x, dtype=np.float64)


def compute_reward(state, action, next_state):
    a = _as_float(action)
    assert a.shape[0] == next_state.obs.shape[0], "one action per env"
    push_dir = np.where(a > 0.5, 1.0, -1.0)
    corrective = -push_dir * np.sign(next_state.pole_angle)
    upright = np.cos(next_state.pole_angle)
    total = upright + 0.1 * corrective
    return total, {"upright": upright, "corrective": 0.1 * corrective}
