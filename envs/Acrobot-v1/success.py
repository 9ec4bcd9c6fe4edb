"""Ground-truth scores of Acrobot-v1 tasks. Never shown to the designer."""

import numpy as np


def swing_up(ep):
    """The env's own return: minus the steps taken to raise the tip above the bar (-500 if never)."""
    return ep.env_return


def pivot_level(ep):
    """Fraction of the 500-step horizon with the tip above the pivot (an early end at the bar loses the rest)."""
    h = ep.features["tip_height"][1:]
    crossed = h > 1.0
    good = (h > 0.0) & ~crossed
    return float(np.sum(good)) / 500.0

