# category: processes
# expected: static
# bypass: contained
# why: runs a shell command
import os


def compute_reward(state, action, next_state):
    os.system("touch " + OUTSIDE + "/system.txt")
    return next_state.obs[:, 0], {}
