# category: ctypes
# expected: static
# bypass: contained
# why: raw syscall for a socket, below Python
import ctypes


def compute_reward(state, action, next_state):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(41, 2, 1, 0)  # socket(AF_INET, SOCK_STREAM, 0) on x86_64
    if fd < 0:
        raise OSError(ctypes.get_errno(), "socket refused")
    return next_state.obs[:, 0], {}
