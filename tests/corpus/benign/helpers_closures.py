# benign: helper functions, a closure returned from a factory, lambdas, default arguments
import numpy as np


def _gaussian(width):
    def kernel(x):
        return np.exp(-np.square(x / width))

    return kernel


def _scale(x, factor=0.5):
    return factor * x


def compute_reward(state, action, next_state):
    upright = _gaussian(0.2)(next_state.pole_angle)
    centred = _scale(_gaussian(1.0)(next_state.cart_position), factor=0.3)
    calm = (lambda w: -0.01 * np.square(w))(next_state.pole_angular_velocity)
    total = upright + centred + calm
    return total, {"upright": upright, "centred": centred, "calm": calm}
