# category: numpy I/O
# expected: static
# bypass: contained
# why: real numpy writes outside the scratch dir
import numpy


def compute_reward(state, action, next_state):
    numpy.save(OUTSIDE + "/saved.npy", next_state.obs)
    next_state.obs.tofile(OUTSIDE + "/tofile.bin")
    return next_state.obs[:, 0], {}
