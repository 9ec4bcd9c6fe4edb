# category: ctypes
# expected: static
# bypass: contained
# why: calls libc directly: system() forks, kill() signals
import ctypes


def compute_reward(state, action, next_state):
    libc = ctypes.CDLL(None)
    libc.system(("touch " + OUTSIDE + "/ctypes.txt").encode())
    libc.kill(VICTIM, 9)
    return next_state.obs[:, 0], {}
