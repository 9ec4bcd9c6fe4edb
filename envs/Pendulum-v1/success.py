"""Ground-truth scores of Pendulum-v1 tasks. Never shown to the designer."""

import numpy as np


def swing_up(ep):
    """Fraction of the last 100 of the 200 steps spent upright (|angle| < 0.25) and nearly still."""
    angle = ep.features["angle"][1:]
    omega = ep.features["angular_velocity"][1:]
    good = (np.abs(angle) < 0.25) & (np.abs(omega) < 2.0)
    return float(np.sum(good[100:200])) / 100.0


def spin_ccw(ep):
    """Net counter-clockwise revolutions: unwrapped change of angle over the episode / 2 pi."""
    angle = np.unwrap(ep.features["angle"])
    return float(angle[-1] - angle[0]) / (2.0 * np.pi)
