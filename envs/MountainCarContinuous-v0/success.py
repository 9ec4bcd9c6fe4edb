"""Ground-truth scores of MountainCarContinuous-v0 tasks. Never shown to the designer."""

import numpy as np


def reach_flag(ep):
    """1 if the car reached the flag (position >= 0.45) during the episode, else 0."""
    return float(np.max(ep.features["position"]) >= 0.45)


def left_hill(ep):
    """1 if the car touched the left end of the track (position <= -1.19), else 0."""
    return float(np.min(ep.features["position"]) <= -1.19)
