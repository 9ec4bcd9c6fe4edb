import numpy as np


def compute_reward(state, action, next_state):
    # Success is the largest backward turn reached (cumulative torso_pitch, 1 turn = 2*pi).
    # spin pays for backward rotation speed, so an episode's spin adds up to the angle turned;
    # nothing pays for holding a partial turn (lying on the back is no resting place), and
    # flipped pays a bonus on every step past a full backward turn.
    back = -next_state.torso_pitch
    spin = -np.clip(next_state.pitch_rate, -20.0, 20.0)
    flipped = 10.0 * (back >= 2.0 * np.pi)
    height = 0.5 * np.clip(next_state.torso_height, 0.0, 2.0)
    effort = -0.001 * np.sum(np.square(action), axis=1)
    total = spin + flipped + height + effort
    return total, {"spin": spin, "flipped": flipped, "height": height, "effort": effort}
