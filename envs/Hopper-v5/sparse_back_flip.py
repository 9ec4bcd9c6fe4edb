import numpy as np


def compute_reward(state, action, next_state):
    flipped = (next_state.torso_pitch <= -2 * np.pi).astype(np.float64)
    return flipped, {"success": flipped}
