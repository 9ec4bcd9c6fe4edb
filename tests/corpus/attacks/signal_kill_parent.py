# category: signals
# expected: static
# bypass: contained
# why: signals the parent and an unrelated process
import os
import signal


def compute_reward(state, action, next_state):
    os.kill(VICTIM, signal.SIGKILL)
    os.kill(os.getppid(), signal.SIGTERM)
    return next_state.obs[:, 0], {}
