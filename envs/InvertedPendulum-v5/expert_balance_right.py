import numpy as np


def compute_reward(state, action, next_state):
    # Balanced right of x = 0.3 is the task: alive pays for the pole staying up, inside for
    # being in the right part of the rail, and right draws the cart toward x = 0.5 from
    # anywhere (without inside, balancing near the centre paid almost as much).
    alive = np.ones_like(next_state.pole_angle)
    inside = (next_state.cart_position > 0.3).astype(np.float64)
    right = -2.0 * np.square(next_state.cart_position - 0.5)
    return alive + inside + right, {"alive": alive, "inside": inside, "right": right}
