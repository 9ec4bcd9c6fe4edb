"""Ground-truth scores of LunarLander-v3 tasks. Never shown to the designer."""

import numpy as np


def land(ep):
    """The env's own return (shaping, fuel, +100 for coming to rest, -100 for a crash)."""
    return ep.env_return


def hover(ep):
    """Fraction of the 1000-step horizon spent near y = 1.0, over the middle, legs off the ground."""
    x = ep.features["x"][1:]
    y = ep.features["y"][1:]
    legs = ep.features["left_leg_contact"][1:] + ep.features["right_leg_contact"][1:]
    good = (np.abs(y - 1.0) < 0.2) & (np.abs(x) < 0.5) & (legs < 0.5)
    return float(np.sum(good)) / 1000.0
