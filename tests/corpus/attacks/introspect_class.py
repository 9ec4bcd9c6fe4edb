# category: introspection escape
# expected: static
# why: class bodies and metaclasses
class Evil:
    def __eq__(self, other):
        return True


def compute_reward(state, action, next_state):
    return next_state.obs[:, 0], {}
