# category: signals
# expected: static
# bypass: contained
# why: signals a whole process group
import os
import signal


def compute_reward(state, action, next_state):
    os.killpg(os.getpgid(VICTIM), signal.SIGKILL)
    return next_state.obs[:, 0], {}
