# category: CPU bomb
# expected: timeout
# bypass: contained
# why: spins forever; the worker is killed at its time limit, and bypassed, RLIMIT_CPU stops it
def compute_reward(state, action, next_state):
    while True:
        pass
