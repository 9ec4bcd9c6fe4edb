# benign: the math module on scalars, trigonometry and special functions on arrays
import math

import numpy as np

HALF_PI = math.pi / 2
TEMPERATURE = math.sqrt(0.02)


def compute_reward(state, action, next_state):
    theta = next_state.pole_angle
    upright = np.cos(theta) ** 2
    soft = np.tanh(-np.abs(theta) / TEMPERATURE) + 1.0
    heading = np.arctan2(np.sin(theta), np.cos(theta)) / HALF_PI
    drift = -np.log1p(np.hypot(next_state.cart_position, next_state.cart_velocity))
    scale = math.exp(-1.0) * math.log(10.0)
    total = upright + soft - 0.1 * np.abs(heading) + scale * drift
    return total, {"upright": upright, "soft": soft, "heading": -0.1 * np.abs(heading),
                   "drift": scale * drift}
