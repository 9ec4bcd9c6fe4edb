# category: signals
# expected: static
# bypass: contained
# why: ptrace-attaches to another process
import ctypes


def compute_reward(state, action, next_state):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(16, VICTIM, 0, 0) != 0:  # PTRACE_ATTACH
        raise OSError(ctypes.get_errno(), "ptrace refused")
    return next_state.obs[:, 0], {}
