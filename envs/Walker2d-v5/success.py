"""Ground-truth scores of Walker2d-v5 tasks. Never shown to the designer."""

import numpy as np

HORIZON = 1000


def walk(ep):
    """Forward distance travelled in the episode (m)."""
    x = np.asarray(ep.features["torso_x"])
    return float(x[-1] - x[0])


def stand_one_leg(ep):
    """Fraction of the 1000-step horizon standing tall on exactly one foot."""
    tall = np.asarray(ep.features["torso_height"])[1:] > 1.0
    right = np.asarray(ep.features["right_foot_height"])[1:]
    left = np.asarray(ep.features["left_foot_height"])[1:]
    one_leg = ((right > 0.25) & (left < 0.1)) | ((left > 0.25) & (right < 0.1))
    return float(np.sum(tall & one_leg)) / HORIZON
