import numpy as np


def compute_reward(state, action, next_state):
    # Success is the largest backward turn reached (cumulative torso_pitch, 1 turn = 2*pi).
    # turned pays every step for how far back the torso has turned so far; flipped pays a
    # bonus on every step the torso is past a full backward turn, so finishing the turn is
    # worth far more than stopping short of it; spin pays for backward rotation speed.
    back = -next_state.torso_pitch
    turned = np.clip(back, 0.0, 4.0 * np.pi)
    flipped = 10.0 * (back >= 2.0 * np.pi)
    spin = -0.5 * np.clip(next_state.pitch_rate, -20.0, 20.0)
    height = 0.5 * np.clip(next_state.torso_height, 0.0, 2.0)
    effort = -0.001 * np.sum(np.square(action), axis=1)
    total = turned + flipped + spin + height + effort
    return total, {"turned": turned, "flipped": flipped, "spin": spin, "height": height,
                   "effort": effort}
