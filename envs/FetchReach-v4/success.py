"""Ground-truth scores of FetchReach-v4 tasks. Never shown to the designer."""

import numpy as np


def reach(ep):
    """Negative distance from the gripper to the goal at the final step (m)."""
    return -float(np.asarray(ep.features["goal_distance"])[-1])
