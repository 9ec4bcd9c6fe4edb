"""Ground-truth scores of the MiniGrid Empty-Random-6x6 task. Never shown to the designer."""

import numpy as np


def reach_goal(ep):
    """1 when the episode ended with the agent on the goal, else 0."""
    return float(np.asarray(ep.features["goal_distance"])[-1] == 0)
