# category: mutating state
# expected: static
# bypass: contained
# why: outside the static layer, makes the observation batch writable and zeroes it: it is the worker's private copy, so the env's state is unchanged
def compute_reward(state, action, next_state):
    obs = next_state.obs
    obs.flags.writeable = True
    obs[:] = 0.0
    return obs[:, 0] + 1.0, {}
