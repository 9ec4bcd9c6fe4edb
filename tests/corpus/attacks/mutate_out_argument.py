# category: mutating state
# expected: runtime
# why: writes into an input through out=
import numpy as np


def compute_reward(state, action, next_state):
    np.clip(next_state.pole_angle, 0.0, 0.0, out=next_state.pole_angle)
    return next_state.obs[:, 0] + 1.0, {}
