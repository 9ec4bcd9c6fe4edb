"""Ground-truth scores of Ant-v5 tasks. Never shown to the designer."""

import numpy as np

DT = 0.05
HORIZON = 1000


def walk(ep):
    """Mean forward speed over the full 1000-step horizon (m/s)."""
    x = np.asarray(ep.features["torso_position"])[:, 0]
    return float(x[-1] - x[0]) / (HORIZON * DT)


def lie_down(ep):
    """Fraction of the horizon lying low, back up, and still."""
    height = np.asarray(ep.features["torso_height"])[1:]
    up = np.asarray(ep.features["torso_up"])[1:, 2]
    speed = np.linalg.norm(np.asarray(ep.features["torso_velocity"])[1:, :2], axis=1)
    lying = (height < 0.4) & (up > 0.9) & (speed < 0.1)
    return float(np.sum(lying)) / HORIZON


def wave_leg(ep):
    """Fraction of the horizon with leg 1 lifted and moving while the torso stays upright."""
    foot = np.asarray(ep.features["front_left_foot"])[1:, 2]
    up = np.asarray(ep.features["torso_up"])[1:, 2]
    hip = np.abs(np.asarray(ep.features["hip_velocities"])[1:, 0])
    waving = (foot > 0.25) & (up > 0.8) & (hip > 1.0)
    return float(np.sum(waving)) / HORIZON
