import numpy as np


def compute_reward(state, action, next_state):
    alive = np.ones_like(next_state.pole_angle)
    right = -2.0 * np.square(next_state.cart_position - 0.5)
    return alive + right, {"alive": alive, "right": right}
