import numpy as np


def compute_reward(state, action, next_state):
    # Success: torso above 1.0 m with one foot above 0.25 m and the other below 0.1 m. Each
    # foot's height is a point 0.2 m ahead of its ankle, so tilting a foot that stays on the
    # ground moves it by up to ~0.17 m: the lift is paid only while exactly one foot is off the
    # ground (no contact force) and the other touches it, by the lifted foot's height.
    right, left = next_state.right_foot_height, next_state.left_foot_height
    right_air = next_state.right_foot_contact <= 0.0
    left_air = next_state.left_foot_contact <= 0.0
    one_air = right_air != left_air
    lifted = np.where(right_air, right, left)
    support = np.where(right_air, left, right)
    height = next_state.torso_height
    lift = np.where(one_air, 2.0 * np.clip(lifted, 0.0, 0.4), 0.0)
    ground = -3.0 * np.clip(np.minimum(right, left) - 0.05, 0.0, 0.5)
    tall = np.clip(height - 1.0, -1.0, 0.2)
    pose = 2.0 * (one_air & (lifted > 0.3) & (support < 0.08) & (height > 1.05))
    still = -0.5 * np.square(next_state.forward_velocity)
    alive = np.ones_like(height)
    total = lift + ground + tall + pose + still + alive
    return total, {"lift": lift, "ground": ground, "tall": tall, "pose": pose, "still": still,
                   "alive": alive}
