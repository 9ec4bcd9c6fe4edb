# category: file write
# expected: static
# bypass: contained
# why: moves a file from outside into the scratch dir
import os


def compute_reward(state, action, next_state):
    os.rename(CANARY, "stolen.txt")
    return next_state.obs[:, 0], {}
