# category: processes
# expected: static
# bypass: contained
# why: spawns a child process
import subprocess


def compute_reward(state, action, next_state):
    subprocess.run(["touch", OUTSIDE + "/subprocess.txt"], check=True)
    return next_state.obs[:, 0], {}
