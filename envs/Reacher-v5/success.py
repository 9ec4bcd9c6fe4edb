"""Ground-truth scores of Reacher-v5 tasks. Never shown to the designer."""

import numpy as np


def reach(ep):
    """Negative distance from fingertip to target at the final step (m)."""
    return -float(np.asarray(ep.features["distance"])[-1])
