"""Ground-truth scores of InvertedDoublePendulum-v5 tasks. Never shown to the designer."""


def balance(ep):
    """Steps survived before the tip fell below 1 m (max 1000)."""
    return float(ep.length)
