# benign: module-level constants computed from numpy/math and earlier constants, a weights dict
# read (never mutated) by functions, a local copy that is mutated
import math

import numpy as np

GAINS = np.array([0.1, 0.01, 1.0, 0.05])
WEIGHTS = {"state_cost": 1.0, "upright": 0.5}
HALF_PI = math.pi / 2
LIMIT = max(0.2095, HALF_PI / 10)


def compute_reward(state, action, next_state):
    local = dict(WEIGHTS)
    local["upright"] *= 2.0
    gains = np.array(GAINS)
    gains[0] = 0.2
    cost = -np.sum(gains * np.square(next_state.obs), axis=1)
    upright = np.where(np.abs(next_state.pole_angle) < LIMIT, 1.0, 0.0)
    components = {"state_cost": local["state_cost"] * cost, "upright": local["upright"] * upright}
    return components["state_cost"] + components["upright"], components
