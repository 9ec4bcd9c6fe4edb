import numpy as np


def compute_reward(state, action, next_state):
    # Success is the largest backward turn reached (cumulative torso_pitch, 1 turn = 2*pi).
    # turned pays every step for how far back the torso has turned so far, so landing a full
    # turn is worth more than landing 0.85 of one for the rest of the episode; spin pays for
    # backward rotation speed (not capped below what a flip in one jump needs).
    turned = np.clip(-next_state.torso_pitch, 0.0, 4.0 * np.pi)
    spin = -0.5 * np.clip(next_state.pitch_rate, -20.0, 20.0)
    height = 0.5 * np.clip(next_state.torso_height, 0.0, 2.0)
    effort = -0.001 * np.sum(np.square(action), axis=1)
    total = turned + spin + height + effort
    return total, {"turned": turned, "spin": spin, "height": height, "effort": effort}
