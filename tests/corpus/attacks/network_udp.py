# category: network
# expected: static
# bypass: contained
# why: sends a UDP datagram (Landlock's network rules cover only TCP; seccomp refuses the socket)
import socket


def compute_reward(state, action, next_state):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"exfiltrated", ("127.0.0.1", PORT))
    return next_state.obs[:, 0], {}
