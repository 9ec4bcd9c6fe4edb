"""Ground-truth scores of HalfCheetah-v5 tasks. Never shown to the designer."""

import numpy as np

DT = 0.05  # seconds per env step
HORIZON = 1000


def _speed(ep):
    x = np.asarray(ep.features["torso_x"])
    return float(x[-1] - x[0]) / (HORIZON * DT)


def run(ep):
    """Mean forward speed over the full 1000-step horizon (m/s)."""
    return _speed(ep)


def run_backward(ep):
    """Mean backward speed over the full 1000-step horizon (m/s)."""
    return -_speed(ep)


def front_flip(ep):
    """Largest forward rotation reached from the start, in turns (2*pi rad = 1 turn)."""
    pitch = np.asarray(ep.features["torso_pitch"])
    return float(np.max(pitch - pitch[0])) / (2 * np.pi)
