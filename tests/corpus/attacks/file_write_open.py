# category: file write
# expected: static
# bypass: contained
# why: writes outside the scratch dir; bypassed, Landlock makes everything but the scratch dir read-only
def compute_reward(state, action, next_state):
    with open(OUTSIDE + "/pwned.txt", "w") as f:
        f.write("pwned")
    return next_state.obs[:, 0], {}
