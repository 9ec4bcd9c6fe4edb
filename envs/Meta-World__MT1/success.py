"""Ground-truth scores of the Meta-World reach-v3 task. Never shown to the designer."""

import numpy as np


def reach(ep):
    """Negative closest distance from the end effector to the goal in the episode (m)."""
    return -float(np.min(np.asarray(ep.features["goal_distance"])))
