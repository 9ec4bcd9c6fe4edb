# category: network
# expected: static
# why: imports urllib
import urllib.request


def compute_reward(state, action, next_state):
    urllib.request.urlopen("http://127.0.0.1:1/")
    return next_state.obs[:, 0], {}
