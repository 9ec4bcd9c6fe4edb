"""Ground-truth scores of InvertedPendulum-v5 tasks. Never shown to the designer."""

import numpy as np


def balance(ep):
    """Steps balanced: the env's own return (max 1000)."""
    return ep.env_return


def balance_right(ep):
    """Fraction of the 1000-step horizon balanced with the cart right of x = 0.3."""
    x = np.asarray(ep.features["cart_position"])[1:]
    theta = np.asarray(ep.features["pole_angle"])[1:]
    return float(np.sum((x > 0.3) & (np.abs(theta) <= 0.2))) / 1000.0
