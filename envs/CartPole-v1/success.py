"""Ground-truth scores of CartPole-v1 tasks. Never shown to the designer."""

import numpy as np


def balance(ep):
    """Steps survived, which is the env's own return (max 500)."""
    return ep.env_return


def right_half(ep):
    """Fraction of the 500-step horizon spent upright with the cart right of centre."""
    x = ep.features["cart_position"][1:]
    theta = ep.features["pole_angle"][1:]
    good = (x > 0.0) & (np.abs(theta) < 0.2095)
    return float(np.sum(good)) / 500.0
